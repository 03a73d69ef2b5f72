# xalma-serve image. CPU (default) or CUDA:
#   docker build -t xalma-serve .
#   docker build -t xalma-serve:cuda --build-arg VARIANT=cuda .
#   docker run -p 8080:8080 xalma-serve                      # embedded demo model, mode all
#   docker run --gpus all -p 8080:8080 -v /data/xalma:/models/xalma:ro \
#     -e XALMA_MODEL=/models/xalma -e XALMA_MODE=single xalma-serve:cuda
# Configuration is by environment (see the README option table); HOST/PORT are preset below.
ARG VARIANT=cpu
ARG NODE_IMAGE=node:20-bookworm-slim
# CUDA 12 + cuDNN 9 runtime: what onnxruntime-node 1.2x/1.3x's CUDA EP links against.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

# ---- dependencies (production only; tsx is a runtime dependency: no build step) ----
FROM ${NODE_IMAGE} AS deps
ARG VARIANT
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# .npmrc runs no dependency install scripts; the CUDA image runs onnxruntime-node's by hand to
# fetch the CUDA 12 EP.
RUN npm ci --omit=dev \
 && if [ "$VARIANT" = "cuda" ]; then ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js; fi \
 && npm cache clean --force

# ---- runtime bases ----
FROM ${NODE_IMAGE} AS runtime-cpu

FROM ${CUDA_IMAGE} AS runtime-cuda
# The official node binary is self-contained (glibc >= 2.28); no npm needed at run time.
COPY --from=deps /usr/local/bin/node /usr/local/bin/node

# ---- final image ----
FROM runtime-${VARIANT}
ARG VARIANT
WORKDIR /app
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app xalma
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY models ./models
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    XALMA_PROVIDER=${VARIANT}
USER xalma
EXPOSE 8080
# Health, not readiness: /ready is also 503 while a lost engine worker is replaced in-process
# (a model load: minutes for a 13B), and an orchestrator should replace the container only when
# /health says the engine is beyond repair (more worker losses than --engine-max-restarts allows).
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself (graceful drain, exit 0); no wrapper in between.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts", "serve"]
