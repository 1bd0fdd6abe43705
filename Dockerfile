# The operator image. Build from the repository root, with nothing prepared:
#   docker build -f Dockerfile -t database-migration-operator .
#   buildah bud -f Dockerfile -t database-migration-operator .
# Four stages: `build` compiles the TypeScript sources with tsc, `deps` installs
# the production dependencies the operator loads (nothing else), `rootfs`
# gathers what Node needs to run (the binary, stripped, and the C libraries it
# links), and the runtime stage is that on an empty image: no shell, no package
# manager, no npm, no compiler (the operator only ever runs `node`).
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
# The operator never talks to PostgreSQL and renders no YAML: the migrator's
# libraries, yaml and the `node` package leave package.json and `npm prune`
# removes them with every dependency only they use (offline: the lockfile and
# npm ci's cache say it all). bare-*: the Bare runtime's stand-ins for Node's
# fs/path/events, loaded only under the "bare" export condition, never by Node.
# Then what no `require`/`import` loads: source maps, TypeScript sources and
# declarations, markdown (licenses stay), packages' own tests and benchmarks.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm pkg delete dependencies.node dependencies.typeorm dependencies.pg dependencies.libpg-query dependencies.yaml \
 && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund \
 && rm -rf node_modules/bare-* node_modules/@types node_modules/.package-lock.json \
 && find node_modules -type d \( -name test -o -name tests -o -name __tests__ -o -name benchmarks -o -name .github \) -prune -exec rm -rf {} + \
 && find node_modules -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.tsbuildinfo' \
      -o \( -iname '*.md' ! -iname 'licen[cs]e*' \) \) -delete \
 && find node_modules -depth -type d -empty -delete \
 && test -d node_modules/@kubernetes/client-node && test ! -e node_modules/typeorm

# The runtime's files: the base's Node, stripped of its debug information and
# symbol table (108 MB instead of 127 MB; Node's exported symbols, which native
# addons link against, stay), and the shared libraries it links, each at the
# path the dynamic linker found it (ldd); a passwd/group naming the runtime
# user, and /tmp. binutils (strip) comes from the base's Debian suites and is
# used here only.
FROM ${BASE_IMAGE} AS rootfs
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends binutils; \
    node="$(command -v node)"; \
    install -d /rootfs/usr/local/bin /rootfs/etc /rootfs/opt; \
    install -d -m 1777 /rootfs/tmp; \
    strip --strip-all -o /rootfs/usr/local/bin/node "$node"; \
    ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
      | while read -r lib; do cp -L --parents "$lib" /rootfs/; done; \
    cp /etc/nsswitch.conf /rootfs/etc/; \
    printf '%s\n' 'root:x:0:0:root:/root:/nonexistent' 'nobody:x:65534:65534:nobody:/nonexistent:/nonexistent' \
      'dbm-operator:x:10001:10001:database-migration-operator:/nonexistent:/nonexistent' >/rootfs/etc/passwd; \
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'dbm-operator:x:10001:' >/rootfs/etc/group; \
    chroot /rootfs /usr/local/bin/node --version

FROM scratch
COPY --from=rootfs /rootfs/ /
ENV NODE_ENV=production \
    PATH=/usr/local/bin
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
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=8", "/opt/operator/dist/operator/main.js"]
