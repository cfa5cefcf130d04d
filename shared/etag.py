"""Optimistic concurrency for updates: `ETag` on reads, `If-Match` required on writes."""
from __future__ import annotations

from typing import Any

from flask import Response, request

from shared.errors import abort


def etag_for(obj: Any) -> str:
    """A strong ETag from the row's id and version counter."""
    return f'"{obj.id}.{obj.version}"'


def set_etag(response: Response, obj: Any) -> Response:
    response.headers["ETag"] = etag_for(obj)
    return response


def require_match(obj: Any) -> None:
    """Refuse an update made without If-Match (428) or against another version (409)."""
    header = request.headers.get("If-Match")
    if not header:
        abort(428, "Send the ETag you read in an If-Match header, so no one's change is lost.",
              type="precondition-required")
    candidates = {tag.strip() for tag in header.split(",")}
    if "*" not in candidates and etag_for(obj) not in candidates:
        abort(409, "Someone changed this since you read it; reload and apply your change again.",
              type="stale-version", current_etag=etag_for(obj))
