"""``python -m web.backend``: the backend on port 8000 (``BACKEND_HOST``/``BACKEND_PORT``/``BACKEND_WORKERS``).

Several workers need ``REDIS_URL``: with the in-memory store each worker would hold its own sessions and
consumed tokens, so a token could verify once per worker.
"""

from __future__ import annotations

import os

import uvicorn

from web.backend.app.core.config import get_settings


def main() -> None:
    settings = get_settings()
    workers = int(os.environ.get("BACKEND_WORKERS", "1"))
    if workers > 1 and not settings.redis_url:
        raise SystemExit("BACKEND_WORKERS > 1 needs REDIS_URL (one shared store)")
    uvicorn.run(
        "web.backend.app.main:serve_app",
        factory=True,
        host=os.environ.get("BACKEND_HOST", "127.0.0.1"),
        port=int(os.environ.get("BACKEND_PORT", "8000")),
        workers=workers,
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
