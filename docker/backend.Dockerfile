# syntax=docker/dockerfile:1.7
# The T-curity backend (python -m web.backend, :8000). Stateless: sessions, tokens and rate limits live in
# Redis (REDIS_URL), so replicas can be added behind nginx. The site registry is a mounted file (SITES_FILE).
# X-Forwarded-For is ignored unless the peer is in TRUSTED_PROXIES, which the deployment sets to its proxy.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY docker/requirements/web.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app/src:/app \
    TCURITY_ENV=production BACKEND_HOST=0.0.0.0 BACKEND_PORT=8000 \
    SITES_FILE=/config/sites.json COLLECTED_DIR=/data/collected
RUN groupadd --system --gid 10001 tcurity \
    && useradd --system --uid 10001 --gid tcurity --home-dir /app --shell /usr/sbin/nologin tcurity \
    && mkdir -p /config /data/collected && chown tcurity:tcurity /config /data/collected
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# Only what the backend imports (tests/packaging/test_image_contents.py computes it): the trace core, the shared
# web plumbing and the trace store for exports; no training code, notebooks or data readers.
COPY --chown=tcurity:tcurity params.yaml ./
COPY --chown=tcurity:tcurity src/tcurity/__init__.py src/tcurity/config.py src/tcurity/datasets.py \
    src/tcurity/fingerprint.py src/tcurity/geometry.py src/tcurity/integrity.py src/tcurity/task_checks.py \
    src/tcurity/traces.py src/tcurity/
COPY --chown=tcurity:tcurity src/tcurity/web/ src/tcurity/web/
COPY --chown=tcurity:tcurity web/__init__.py web/__init__.py
COPY --chown=tcurity:tcurity web/backend/__init__.py web/backend/__main__.py web/backend/
COPY --chown=tcurity:tcurity web/backend/app/ web/backend/app/
USER tcurity
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=2).status == 200 else 1)"]
CMD ["python", "-m", "web.backend"]
