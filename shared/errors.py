"""RFC 9457 problem+json for every failure, whoever raised it."""
from __future__ import annotations

import logging
from typing import Any, NoReturn

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_MIME = "application/problem+json"
PROBLEM_BASE = "https://mitra.example.org/problems/"
log = logging.getLogger("mitra.errors")

_DEFAULT_TYPES = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
}


class Problem(Exception):
    """A failure the caller should see: raised by views and operations alike."""

    def __init__(self, status: int, detail: str, *, type: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.headers = headers or {}
        self.extra = extra


def abort(status: int, detail: str, *, type: str | None = None,
          headers: dict[str, str] | None = None, **extra: Any) -> NoReturn:
    """Stop with a problem: `type` is a short slug, `extra` members go into the body
    (e.g. errors={"field": ["message"]})."""
    raise Problem(status, detail, type=type, headers=headers, **extra)


def invalid(field: str, message: str) -> NoReturn:
    """A 422 for one field, like schema validation gives, for rules the schema cannot check."""
    abort(422, "Some fields are not valid; see errors.", errors={field: [message]})


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs (and marshmallow) nest errors by location and field; clients want
    `field.sub: [messages]`."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def _field_errors(raw: dict[str, Any]) -> dict[str, list[str]]:
    # Drop the location level ("json", "query", ...) when there is only one.
    if len(raw) == 1 and next(iter(raw)) in {"json", "query", "headers", "form", "files", "path"}:
        raw = next(iter(raw.values()))
    return flatten_errors(raw)


def problem_response(status: int, title: str, detail: str | None = None,
                     type: str | None = None, **extra: Any) -> Response:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (type or _DEFAULT_TYPES.get(status, "error")),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    return response


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    extra = dict(data.get("extra") or {})
    detail = data.get("message")
    if status == 422 or "messages" in data:
        if status == 400 and "messages" in data:
            detail = detail or "The request body is not valid JSON."
        extra["errors"] = _field_errors(data.get("messages") or data.get("errors") or {})
        detail = detail or "Some fields are not valid; see errors."
    if status == 400 and detail is None:
        detail = "The request could not be read; send valid JSON."
    if status == 413:
        detail = detail or "The request body is too large."
    response = problem_response(
        status, error.name, detail or error.description, data.get("problem_type"), **extra
    )
    for header, value in (data.get("headers") or {}).items():
        response.headers[header] = value
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    retry_after = getattr(error, "retry_after", None)
    if status == 429 and retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_problem(error: Problem) -> Response:
    from werkzeug.http import HTTP_STATUS_CODES

    response = problem_response(error.status, HTTP_STATUS_CODES.get(error.status, "Error"),
                                error.detail, error.type, **error.extra)
    response.headers.update(error.headers)
    return response


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(500, "Internal Server Error",
                            "Something went wrong on our side; it has been logged.")


def init_app(app: Flask) -> None:
    """Every error, from routing to validation to bugs, answers problem+json."""
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
