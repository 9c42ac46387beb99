"""Structured JSON logs with a request id.

Every record is one JSON object: time, level, logger, message, the request id of the request being served
(if any) and the record's ``fields`` (``logger.info("...", extra={"fields": {...}})``). Callers never pass a
secret, a token, a trace or an answer: what is logged is ids, codes, states and timings.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id(incoming: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a plain token (so proxies can correlate), else a fresh one."""
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return secrets.token_hex(8)


class JsonFormatter(logging.Formatter):
    """Formats records as single-line JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def setup_logging(level: str = "INFO") -> None:
    """Configures the root logger once, at the entry point, to write JSON lines to stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every call's URL at INFO; the backend's own access lines say enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)
