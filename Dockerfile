# Lookbook API / worker image. Build: docker build -t lookbook .
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Set ONNXRUNTIME_NODE_INSTALL=skip where the build host has no internet; leave it empty to let
# onnxruntime-node fetch its CUDA provider (for the `cuda` execution provider).
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production LOOKBOOK_HOST=0.0.0.0 LOOKBOOK_PORT=8080 LOOKBOOK_DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY models ./models
VOLUME /data
EXPOSE 8080
USER node
CMD ["node", "dist/src/main.js"]
