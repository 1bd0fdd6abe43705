# The operator image.
#
# Build context: a directory holding the compiled operator (dist/, from
# `npm run build`), the production node_modules (`npm ci --omit=dev`) and
# package.json. images/build.sh prepares exactly that and runs
#   buildah bud --pull-never -f Dockerfile <context>
# on the local node; with Docker: `docker build -f Dockerfile <context>`.
# The base is the public node:24-slim unless BASE_IMAGE says otherwise.
ARG BASE_IMAGE=node:24-slim
FROM ${BASE_IMAGE}

ENV NODE_ENV=production
WORKDIR /opt/operator
COPY package.json ./
COPY node_modules ./node_modules
COPY dist ./dist

# Never root: a fixed uid so Pod securityContexts (runAsNonRoot) can check it.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["node", "/opt/operator/dist/operator/main.js"]
