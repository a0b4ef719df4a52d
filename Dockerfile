# syntax=docker/dockerfile:1
#
# An executor app's image, with this repository's demo (examples/main.ts) as the app:
#
#   docker build -t xxl-job-demo .
#   docker run --rm --stop-timeout 45 -p 9999:9999 \
#     -e XXL_JOB_ADMIN_ADDRESSES=http://admin:8080/xxl-job-admin -e XXL_JOB_ACCESS_TOKEN=... \
#     -e XXL_JOB_EXECUTOR_IP=<an address the admin reaches> -v xxl-job-data:/data/xxl-job xxl-job-demo
#
# (Without XXL_JOB_ADMIN_ADDRESSES the demo runs its development admin inside the container.) Your app's
# Dockerfile is this one with your build: see docs/production.md.

ARG NODE_VERSION=20

# Build: every dependency (TypeScript included), then the compiled app.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: this package's `prepare` would build before the sources are here (your app has none).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.examples.json ./
COPY src ./src
COPY examples ./examples
# Your app: RUN npm run build (tsc to dist/).
RUN npx tsc -p tsconfig.examples.json
# Then the production dependencies only. Here the app is the library's own demo, and Effect's Node platform is
# one of the library's dev dependencies (a peer for its users): the demo lists it as its own first. Your app
# has it under dependencies already and needs only `npm prune --omit=dev`.
RUN npm pkg delete "devDependencies.@effect/platform-node" \
  && npm pkg set "dependencies.@effect/platform-node=$(node -p "require('./package.json').peerDependencies['@effect/platform-node']")" \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Run: Node, tini, the production dependencies and the compiled app; no compiler, no sources.
FROM node:${NODE_VERSION}-bookworm-slim
# tini as PID 1 hands SIGTERM to node and reaps the processes GLUE scripts and isolated jobs leave behind.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# package.json says "type": "module": the compiled .js files are ES modules.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
# Run logs and the results journal (callback-outbox/): a volume, so that results survive a restart. Owned by
# the image's unprivileged user `node`, which the executor runs as.
RUN mkdir -p /data/xxl-job && chown node:node /data/xxl-job
ENV XXL_JOB_EXECUTOR_LOGPATH=/data/xxl-job
VOLUME ["/data/xxl-job"]
USER node
EXPOSE 9999
# SIGTERM starts the drain: new triggers refused, registryRemove, running jobs finish within
# XXL_JOB_EXECUTOR_SHUTDOWN_GRACE_SECONDS (10), results delivered. Give the container longer than that before
# it is killed: `docker run --stop-timeout 45`, compose `stop_grace_period: 45s`, Kubernetes
# `terminationGracePeriodSeconds: 45` (Docker's default is 10 s).
STOPSIGNAL SIGTERM
# GET /health on the executor's port (on the metrics port instead when XXL_JOB_EXECUTOR_METRICS is a port);
# its body must be "ok" (the executor answers any other request with HTTP 200 too).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "const m = process.env.XXL_JOB_EXECUTOR_METRICS ?? ''; const port = /^\\d+$/.test(m) ? m : process.env.XXL_JOB_EXECUTOR_PORT || 9999; fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text()).then((t) => process.exit(t.trim() === 'ok' ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "build/examples/main.js"]
