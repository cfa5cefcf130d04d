"""JSON log lines, each carrying the request id of the request that wrote it."""
from __future__ import annotations

import logging
import sys
import time
import uuid

import orjson
from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"


def current_request_id() -> str | None:
    """The id of the request being served, to forward on calls to other services."""
    if has_request_context():
        return g.get("request_id")
    return None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key in ("service", "method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(level: str) -> None:
    """Send every logger's records to stderr as JSON (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        formatter = JsonFormatter()
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Give every request an id (the caller's, or a new one) and log one line per request."""
    configure(app.config.get("LOG_LEVEL", "INFO"))
    access = logging.getLogger("mitra.access")
    access_log_enabled = app.config.get("ACCESS_LOG", True)

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming[:80] if incoming else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):  # type: ignore[no-untyped-def]
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if access_log_enabled:
            duration = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
            access.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={"service": app.config["SERVICE_NAME"], "method": request.method,
                       "path": request.path, "status": response.status_code,
                       "duration_ms": round(duration, 2)},
            )
        return response
