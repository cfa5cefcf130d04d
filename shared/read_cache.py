"""Answers of hot read endpoints, kept in each process until the data behind them changes.

A counter in Redis, the *generation*, is bumped after every commit that wrote one of the
watched tables through the service's sessions. A kept answer is served only while the
generation it was made under is still current, and never for longer than `max_age` seconds: a
safety net for writes the service cannot see (psql, a lost bump while Redis was away).

The generation is read before the query runs, so an answer that raced with a commit is kept
under the older generation and is never served after that commit's bump. Without Redis (the
embedded default) or while Redis does not answer, every request goes to the database.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable

import redis
from flask import Flask, Response, current_app, request
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

log = logging.getLogger(__name__)
_TOUCHED = "mitra_read_cache_touched"
# Headers of the answer that belong to it (the rest, such as X-Request-ID, are per request).
KEPT_HEADERS = ("Content-Type", "X-Pagination")


@dataclass(frozen=True)
class _Entry:
    generation: int
    stored_at: float
    body: bytes
    headers: tuple[tuple[str, str], ...]


class Generation:
    """The counter in Redis; `None` whenever Redis does not answer."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def current(self) -> int | None:
        try:
            value = self.client.get(self.key)
            if value is None:
                # First use, or Redis lost its data: start far from any number used before,
                # so answers kept under an earlier life of the counter never match again.
                self.client.set(self.key, random.randrange(1 << 40), nx=True)
                value = self.client.get(self.key)
            return int(value) if value is not None else None
        except redis.RedisError as exc:
            log.warning("read cache: generation unavailable (%s); reading the database", exc)
            return None

    def bump(self) -> None:
        try:
            self.client.incr(self.key)
        except redis.RedisError as exc:
            log.warning("read cache: could not bump %s (%s); kept answers expire by age",
                        self.key, exc)


class ReadCache:
    """Kept answers of the endpoints decorated with `cached`, invalidated by writes to `tables`.
    Declared once per service; each app bound with `init_app` keeps its own answers."""

    def __init__(self, name: str, tables: set[str], *, max_entries: int = 2048,
                 max_age: float = 30.0) -> None:
        self.name = name
        self.tables = frozenset(tables)
        self.max_entries = max_entries
        self.max_age = max_age

    def init_app(self, app: Flask, session_factory: sessionmaker) -> None:
        """Use Redis at REDIS_URL when set (READ_CACHE=false turns the cache off) and watch
        the sessions made by `session_factory` for writes to the watched tables."""
        url = app.config.get("REDIS_URL")
        if not url or not app.config.get("READ_CACHE", True):
            return
        prefix = app.config.get("CELERY_KEY_PREFIX") or "mitra"
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        kept = KeptAnswers(Generation(client, f"{prefix}:read-cache:{self.name}"),
                           self.max_entries, self.max_age)
        app.extensions[self._extension] = kept
        event.listen(session_factory, "after_flush", self._note_flush)
        event.listen(session_factory, "do_orm_execute", self._note_statement)
        event.listen(session_factory, "after_commit", kept.after_commit)
        event.listen(session_factory, "after_rollback", _forget)

    def invalidate(self, app: Flask) -> None:
        """Stop serving every kept answer, in every process: for writes made around the
        service's sessions (bulk loads, maintenance, test clean-up)."""
        kept: KeptAnswers | None = app.extensions.get(self._extension)
        if kept is not None:
            kept.generation.bump()

    @property
    def _extension(self) -> str:
        return f"mitra_read_cache_{self.name}"

    # --- noticing writes ----------------------------------------------------------------

    def _note_flush(self, session: Session, _context: Any) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            table = getattr(obj, "__table__", None)
            if table is not None and table.name in self.tables:
                session.info[_TOUCHED] = True
                return

    def _note_statement(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) in self.tables or table is None:
                state.session.info[_TOUCHED] = True

    # --- serving ------------------------------------------------------------------------

    def cached(self, scope: Callable[[], str]) -> Callable:
        """Keep the 200 answers of a GET view per `scope()` (who may see what) and query string.
        Put it under the access check, so that only callers let through reach kept answers."""

        def decorator(view: Callable) -> Callable:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                kept: KeptAnswers | None = current_app.extensions.get(self._extension)
                generation = kept.generation.current() if kept else None
                if generation is None:
                    return view(*args, **kwargs)
                key = (scope(), request.path, tuple(sorted(request.args.items(multi=True))))
                entry = kept.get(key, generation)
                if entry is not None:
                    return Response(entry.body, 200, headers=list(entry.headers))
                response = view(*args, **kwargs)
                if isinstance(response, Response) and response.status_code == 200:
                    kept.put(key, _Entry(generation, time.monotonic(), response.get_data(),
                                         tuple((name, response.headers[name])
                                               for name in KEPT_HEADERS
                                               if name in response.headers)))
                return response

            return wrapper

        return decorator


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_TOUCHED, None)


class KeptAnswers:
    """One app's kept answers: a bounded LRU map, safe across threads."""

    def __init__(self, generation: Generation, max_entries: int, max_age: float) -> None:
        self.generation = generation
        self.max_entries = max_entries
        self.max_age = max_age
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def after_commit(self, session: Session) -> None:
        if session.info.pop(_TOUCHED, False):
            self.generation.bump()

    def get(self, key: tuple, generation: int) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if (entry.generation != generation
                    or time.monotonic() - entry.stored_at > self.max_age):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
