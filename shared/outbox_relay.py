"""The outbox relay: what a service wrote to its outbox reaches notify, oldest first.

After a transaction that emitted events commits, the service's relay task is queued (never
inside the transaction: a worker could run before the rows are visible, and a rollback would
leave a task for nothing). The task posts the unpublished rows to notify's
`POST /api/v1/events/batch` (up to BATCH rows and MAX_POST_BYTES a request), which stores
each event once by its id, so a row sent again after a crash (posted, then the worker died
before recording it) changes nothing there. A beat entry runs the same task every
OUTBOX_SWEEP_S seconds and sends whatever is left.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from shared.db import ServiceDatabase, utcnow
from shared.http_client import ServiceClient
from shared.outbox import PENDING_KEY

log = logging.getLogger(__name__)

PostEvents = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
BATCH = 200  # rows claimed, and at most posted, at a time
MAX_POST_BYTES = 256 * 1024  # of events in one request (notify takes up to 1 MiB)
STORED = ("created", "exists")


class RelayError(Exception):
    """Notify answered, but not with a result for each event."""


class NotifyPoster:
    """Posts a batch of events to notify with a service token; returns notify's result for
    each, in order (`status` created, exists or refused); raises unless notify answered the
    batch."""

    def __init__(self, base_url: str, token: Callable[[], str | None], timeout: float = 10.0
                 ) -> None:
        # One retry on a refused or dropped connection: the sweeper retries anything else.
        self.http = ServiceClient(base_url, timeout=timeout, retries=1, token=token)

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.http.request("POST", "/api/v1/events/batch", json={"events": events})
        if response.status_code != 200:
            raise RelayError(f"notify answered {response.status_code}: {response.text[:300]}")
        results = response.json().get("results") or []
        if len(results) != len(events):
            raise RelayError(f"notify answered {len(results)} results for {len(events)} events")
        return results


def event_body(row: Any, source: str) -> dict[str, Any]:
    """An outbox row as notify's EventIn."""
    return {"id": str(row.id), "type": row.event_type, "source": source,
            "aggregate_type": row.aggregate_type, "aggregate_id": row.aggregate_id,
            "occurred_at": row.occurred_at.isoformat(), "payload": row.payload}


def relay_pending(session_factory: sessionmaker[Session], post_events: PostEvents, source: str,
                  batch: int = BATCH, max_bytes: int = MAX_POST_BYTES) -> dict[str, int]:
    """Post unpublished outbox rows to notify, oldest first, and mark them published.

    On PostgreSQL the rows being sent stay locked (FOR UPDATE SKIP LOCKED), so two relays
    never send the same row at once; a relay that finds older rows locked by another leaves
    the rest to it, so events go out in order. On SQLite (one worker, embedded default) the
    rows are read plainly and no transaction stays open while posting. A request that fails
    counts an attempt on its oldest row and ends the pass, so nothing overtakes it. A row
    notify refuses (not a valid event: sending it again will not help) gets an attempt and
    the reason, and the pass ends after its batch; the rows notify stored are published.
    Returns {"published": n, "failed": rows not delivered in this pass (0 when all were)}."""
    model = _Outbox
    published = failed = 0
    while True:
        with session_factory() as session:
            locking = session.get_bind().dialect.name == "postgresql"
            rows = _claim(session, model, batch, locking)
            if not rows:
                break
            bodies = [(row.id, event_body(row, source)) for row in rows]
            if not locking:
                session.rollback()  # end the read: SQLite writers must not wait on us
            sent: list[Any] = []
            errors: list[tuple[Any, str]] = []
            for chunk in _chunks(bodies, max_bytes):
                try:
                    results = post_events([body for _, body in chunk])
                except Exception as exc:  # noqa: BLE001 - recorded on the row, sent again later
                    errors.append((chunk[0][0], f"{type(exc).__name__}: {exc}"[:2000]))
                    break
                for (row_id, _), result in zip(chunk, results):
                    if result.get("status") in STORED:
                        sent.append(row_id)
                    else:
                        errors.append((row_id, f"notify refused it: {result.get('errors')}"
                                       [:2000]))
            if sent:
                session.execute(sa.update(model).where(model.id.in_(sent))
                                .values(published_at=utcnow()))
            for row_id, error in errors:
                session.execute(sa.update(model).where(model.id == row_id).values(
                    attempts=model.attempts + 1, last_error=error))
            session.commit()
        published += len(sent)
        if errors:
            failed += len(errors)
            for row_id, error in errors:
                log.warning("outbox relay: event %s not delivered (%s); the sweeper retries "
                            "it", row_id, error)
            break
        if len(rows) < batch:
            break
    return {"published": published, "failed": failed}


def _chunks(bodies: list[tuple[Any, dict[str, Any]]], max_bytes: int
            ) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """The bodies in runs of at most max_bytes of JSON (at least one body each)."""
    chunk: list[tuple[Any, dict[str, Any]]] = []
    size = 0
    for item in bodies:
        length = len(orjson.dumps(item[1])) + 1
        if chunk and size + length > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk


def _claim(session: Session, model: Any, batch: int, locking: bool) -> list[Any]:
    """The oldest unpublished rows (locked on PostgreSQL); [] when there are none, or when
    older ones are being sent by another relay right now."""
    statement = (sa.select(model).where(model.published_at.is_(None))
                 .order_by(model.occurred_at, model.id).limit(batch))
    if locking:
        statement = statement.with_for_update(skip_locked=True)
    rows = list(session.scalars(statement))
    if rows and locking:
        first = rows[0]
        older_taken = session.scalar(sa.select(model.id).where(
            model.published_at.is_(None),
            sa.or_(model.occurred_at < first.occurred_at,
                   sa.and_(model.occurred_at == first.occurred_at, model.id < first.id)))
            .limit(1))
        if older_taken is not None:
            session.rollback()  # release ours; the relay holding the older rows goes on
            return []
    return rows


# Every service's outbox table has the same shape (shared/db.py); this mapping of it works
# with any service's session.
_Outbox = ServiceDatabase().OutboxEvent


# --- wiring ------------------------------------------------------------------------------------

def trigger_after_commit(session_factory: sessionmaker[Session],
                         enqueue: Callable[[], None]) -> None:
    """Call `enqueue` after each commit of a session (from this factory) that emitted events
    (shared.outbox.emit marks it); a failure to enqueue is logged, never raised: the data is
    committed, and the sweeper will send the events."""

    @sa_event.listens_for(session_factory, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.info.pop(PENDING_KEY, False):
            try:
                enqueue()
            except Exception:  # the sweeper sends the events anyway
                log.warning("outbox relay: could not queue the relay task; the sweeper will "
                            "send the events", exc_info=True)

    @sa_event.listens_for(session_factory, "after_transaction_end")
    def _after_transaction_end(session: Session, transaction: Any) -> None:
        if transaction.parent is None:  # the outermost ended: committed (and queued) or gone
            session.info.pop(PENDING_KEY, None)


def init_app(app: Flask, database: ServiceDatabase, task_name: str,
             token: Callable[[], str | None]) -> None:
    """Wire a service's relay: the poster (to NOTIFY_URL, with `token`), and the task
    `task_name` queued after every commit that emitted events."""
    assert database.session_factory is not None, "init the database first"
    app.extensions["outbox_poster"] = NotifyPoster(app.config["NOTIFY_URL"], token,
                                                   timeout=app.config["NOTIFY_TIMEOUT_S"])
    celery = app.extensions["celery"]
    trigger_after_commit(database.session_factory,
                         lambda: celery.send_task(task_name, retry=False))


def beat_schedule(task_name: str, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sweeper's beat entry: the relay task every OUTBOX_SWEEP_S seconds (a sweep not
    started within that time is dropped; the next one does its work)."""
    every = config["OUTBOX_SWEEP_S"]
    return {"relay-outbox": {"task": task_name, "schedule": every,
                             "options": {"expires": every}}}


def relay(database: ServiceDatabase, source: str) -> dict[str, int]:
    """The relay task's body, inside the service's app context."""
    assert database.session_factory is not None
    return relay_pending(database.session_factory, current_app.extensions["outbox_poster"],
                         source)

