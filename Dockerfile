# syntax=docker/dockerfile:1
# Lookbook API / worker image. Build: docker build -t lookbook .  (or: docker compose up --build)
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Native modules must build offline: better-sqlite3 falls back to node-gyp when its prebuilt binary
# cannot be downloaded (and usearch when its prebuilds do not fit). node-gyp needs a compiler and
# Python, and compiles against this image's own Node headers (/usr/local/include/node) instead of
# downloading them.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
# onnxruntime-node's install script downloads its CUDA provider from outside the npm registry: skipped
# by default (as in .npmrc). Where the build host has internet and the runtime has CUDA libraries,
# pass --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 (an empty value still skips, through .npmrc).
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
# Everything .dockerignore lets through: the build below decides what it compiles.
COPY . .
# The same build `npm start` runs (scripts/ensure-setup.mjs: TypeScript into dist/, and whatever else
# the project learns to build; it finds node_modules fresh and does not install again), then the
# dev dependencies go.
RUN node scripts/ensure-setup.mjs && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production LOOKBOOK_HOST=0.0.0.0 LOOKBOOK_PORT=8080 LOOKBOOK_DATA_DIR=/data
# Owned by root and read-only for the service: it writes only under /data. dist/ holds all that the
# build produced (the compiled TypeScript, and the web app, which Vite builds into dist/web).
COPY --from=build /app/package.json ./
COPY --from=build /app/models ./models
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# jemalloc instead of glibc's malloc: under a long mixed load (bench:load's soak, 100k items, graph
# saves in a worker thread every ~2 s) glibc's per-thread arenas kept growing the server's RSS
# (0.8 GB/hour), jemalloc held it flat (README, "Load and soak").
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
  && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
# /data belongs to the service's user before it is declared a volume, so that a named volume mounted
# there for the first time takes this ownership.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
# No curl in the slim image: Node's own fetch. /readyz is 200 once the models are loaded and until
# shutdown starts. (A worker serves no HTTP: docker-compose.yml turns this off for it.)
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LOOKBOOK_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1: the server and the worker handle SIGTERM and SIGINT themselves (graceful shutdown,
# LOOKBOOK_SHUTDOWN_TIMEOUT_MS), and they start no child processes to reap.
CMD ["node", "dist/src/main.js"]
