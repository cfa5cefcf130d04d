"""`Idempotency-Key` on creates: a retry gets the first response; the same key with another
body is refused. Only successful responses are kept, so a failed attempt can be retried."""
from __future__ import annotations

import hashlib
from copy import deepcopy
from functools import wraps
from typing import Any, Callable

from flask import Response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from shared.auth import current_actor
from shared.db import current_db
from shared.errors import abort

HEADER = "Idempotency-Key"
KEPT_HEADERS = ("Content-Type", "Location", "ETag")


def _request_hash() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _replay_or_refuse(record: Any, request_hash: str) -> Response:
    if record.request_hash != request_hash:
        abort(422, "This Idempotency-Key was already used for a different request.",
              type="idempotency-key-reused")
    if record.status_code is None:
        abort(409, "A request with this Idempotency-Key is still being processed; retry shortly.",
              type="idempotency-in-progress")
    response = Response(record.response_body, status=record.status_code)
    for name, value in (record.response_headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable) -> Callable:
    """Wrap a create endpoint so that `Idempotency-Key` retries are safe."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= 255 or "\x00" in key:
            abort(400, "Idempotency-Key must be 1 to 255 characters, without NUL.",
                  type="bad-idempotency-key")
        db = current_db()
        model = db.IdempotencyRecord
        actor = current_actor()
        # Anonymous callers (public registration) are told apart by address at least.
        scope = f"{actor.kind}:{actor.id or request.remote_addr or '-'}"
        request_hash = _request_hash()
        with db.session_factory() as session:  # type: ignore[misc]
            record = session.scalar(select(model).where(model.scope == scope, model.key == key))
            if record is not None:
                return _replay_or_refuse(record, request_hash)
            session.add(model(scope=scope, key=key, request_hash=request_hash))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                record = session.scalar(
                    select(model).where(model.scope == scope, model.key == key))
                return _replay_or_refuse(record, request_hash)
        stored = False
        try:
            response = view(*args, **kwargs)
            if isinstance(response, Response) and 200 <= response.status_code < 300:
                with db.session_factory() as session:  # type: ignore[misc]
                    record = session.scalar(
                        select(model).where(model.scope == scope, model.key == key))
                    record.status_code = response.status_code
                    record.response_body = response.get_data(as_text=True)
                    record.response_headers = {h: response.headers[h] for h in KEPT_HEADERS
                                               if h in response.headers}
                    session.commit()
                    stored = True
            return response
        finally:
            if not stored:
                with db.session_factory() as session:  # type: ignore[misc]
                    session.execute(delete(model).where(model.scope == scope, model.key == key))
                    session.commit()

    wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))  # type: ignore[attr-defined]
    manual = wrapper._apidoc.setdefault("manual_doc", {})  # type: ignore[attr-defined]
    manual.setdefault("parameters", []).append({
        "in": "header", "name": HEADER, "required": False,
        "description": "Makes a retry safe: the same key returns the first response.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    })
    return wrapper
