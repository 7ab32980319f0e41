# The Weir controller image: `docker build -t <registry>/weir:<version> .`
# Stage 1 type-checks and bundles the TypeScript (npm ci && npm run build -> dist/) and drops the dev dependencies;
# stage 2 is a slim Node runtime with the git CLI (GitSync fetches with it), running as non-root.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/build.ts ./scripts/build.ts
COPY scripts/shims ./scripts/shims
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# git + ssh for GitSync; tini as PID 1 reaps the git processes a timed-out fetch leaves behind.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
# The root filesystem may be read-only (the Helm chart mounts an emptyDir on /tmp): HOME points there.
ENV NODE_ENV=production HOME=/tmp WEIR_GIT_CACHE_DIR=/tmp/weir-git
# V8's young generation at 4 MiB per semi-space instead of 16: at 200 Canaries the controller's idle
# RSS is 120 MiB instead of 159 for the same CPU (docs/performance.md). npm run bench:peer runs the
# controller with this same line.
ENV NODE_OPTIONS="--max-semi-space-size=4"
# Two glibc malloc arenas instead of one per thread (up to 8 per core): Node's V8 and libuv threads
# each left an arena of freed-but-kept memory, 10-15 MiB of RSS at 200 Canaries (docs/performance.md).
ENV MALLOC_ARENA_MAX="2"
# A numeric non-root user, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/weir.js"]
CMD ["controller"]
