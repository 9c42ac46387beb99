"""``python -m serving``: the AI server on port 9000 (``AI_SERVER_HOST``/``AI_SERVER_PORT`` override)."""

from __future__ import annotations

import logging
import os

import uvicorn

from serving.app import create_app


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("TCURITY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        create_app(),
        host=os.environ.get("AI_SERVER_HOST", "127.0.0.1"),
        port=int(os.environ.get("AI_SERVER_PORT", "9000")),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
