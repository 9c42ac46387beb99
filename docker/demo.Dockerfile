# syntax=docker/dockerfile:1.7
# The demo ticket shop (python -m web.demo, :5173): a site of the backend (DEMO_SITEKEY, DEMO_SITE_SECRET).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY docker/requirements/web.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app \
    TCURITY_ENV=production DEMO_HOST=0.0.0.0 DEMO_PORT=5173
RUN groupadd --system --gid 10001 tcurity \
    && useradd --system --uid 10001 --gid tcurity --home-dir /app --shell /usr/sbin/nologin tcurity
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=tcurity:tcurity web/__init__.py web/__init__.py
COPY --chown=tcurity:tcurity web/demo/ web/demo/
USER tcurity
EXPOSE 5173
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5173/health', timeout=2).status == 200 else 1)"]
CMD ["python", "-m", "web.demo"]
