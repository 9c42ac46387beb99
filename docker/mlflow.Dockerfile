# syntax=docker/dockerfile:1.7
# MLflow tracking server (GPU server, :5000, private network only): runs and the model registry in Postgres
# (MLFLOW_BACKEND_STORE_URI), artifacts on a volume served through the server (--serve-artifacts), so clients
# need only MLFLOW_TRACKING_URI=http://mlflow:5000 and their user (MLFLOW_TRACKING_USERNAME/_PASSWORD). Every
# request is authenticated by MLflow's basic-auth app (docker/mlflow/basic_auth.ini); the entrypoint creates the
# trainer and the read-only serving user (docker/mlflow/users.py). The user store is on the /auth volume.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY docker/requirements/mlflow.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_ARTIFACTS_DESTINATION=/mlartifacts \
    MLFLOW_AUTH_CONFIG_PATH=/opt/tcurity/basic_auth.ini
RUN groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid mlflow --home-dir /mlartifacts --shell /usr/sbin/nologin mlflow \
    && mkdir -p /mlartifacts /auth && chown mlflow:mlflow /mlartifacts /auth
COPY --from=deps /opt/venv /opt/venv
COPY docker/mlflow/basic_auth.ini docker/mlflow/users.py docker/mlflow/entrypoint.sh /opt/tcurity/
USER mlflow
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=2).status == 200 else 1)"]
CMD ["/opt/tcurity/entrypoint.sh"]
