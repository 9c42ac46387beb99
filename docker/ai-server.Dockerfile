# syntax=docker/dockerfile:1.7
# The AI server (python -m serving, :9000) on the NVIDIA GPU. torch/torchvision come from the CUDA base image;
# the serving dependencies are installed before the code so a code change reuses the dependency layer.
# Models are not baked in: they load from the MLflow registry (MLFLOW_TRACKING_URI, alias `champion`), the
# Phase B image bank is a volume (PHASE_B_PROBLEM_IMAGE_ROOT).
ARG PYTORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime

FROM ${PYTORCH_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# --no-deps: the lock is the whole closure except torch and torchvision, which the base image brings.
COPY docker/requirements/ai-server.lock /tmp/requirements.lock
RUN python -m pip install --prefix=/install --require-hashes --no-deps -r /tmp/requirements.lock

FROM ${PYTORCH_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app/src:/app \
    HF_HUB_OFFLINE=1 MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false \
    TCURITY_ENV=production AI_SERVER_HOST=0.0.0.0 AI_SERVER_PORT=9000 AI_DEVICE=cuda \
    PHASE_B_PROBLEM_IMAGE_ROOT=/data/bank
COPY --from=deps /install /opt/conda
RUN groupadd --system --gid 10001 tcurity \
    && useradd --system --uid 10001 --gid tcurity --home-dir /app --shell /usr/sbin/nologin tcurity \
    && mkdir -p /data/bank /models \
    && chown tcurity:tcurity /data/bank /models
WORKDIR /app
# tcurity.config resolves params.yaml from the source tree (PROJECT_ROOT = /app), so the package stays in src/.
# Only what serving imports (tests/packaging/test_image_contents.py computes it): the core, the features, scoring,
# the registry client, the problem generator and its classifier; no training code, notebooks or data readers.
COPY --chown=tcurity:tcurity params.yaml ./
COPY --chown=tcurity:tcurity src/tcurity/__init__.py src/tcurity/bundles.py src/tcurity/config.py \
    src/tcurity/datasets.py src/tcurity/geometry.py src/tcurity/integrity.py src/tcurity/problems.py \
    src/tcurity/registry.py src/tcurity/sampling.py src/tcurity/scoring.py src/tcurity/task_checks.py \
    src/tcurity/traces.py src/tcurity/
COPY --chown=tcurity:tcurity src/tcurity/features/ src/tcurity/features/
COPY --chown=tcurity:tcurity src/tcurity/images/__init__.py src/tcurity/images/bank.py \
    src/tcurity/images/classes.py src/tcurity/images/classifier.py src/tcurity/images/effnet.py \
    src/tcurity/images/render.py src/tcurity/images/
COPY --chown=tcurity:tcurity src/tcurity/web/ src/tcurity/web/
COPY --chown=tcurity:tcurity serving/ serving/
USER tcurity
EXPOSE 9000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9000/health', timeout=2).status == 200 else 1)"]
CMD ["python", "-m", "serving"]
