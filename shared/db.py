"""SQLAlchemy 2 plumbing: one declarative Base per service, a session per request or task."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, has_app_context
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def string_list(length: int) -> sa.types.TypeEngine:
    """A list of short strings in one column: an ARRAY on PostgreSQL (GIN-indexable, searched
    with `&&`), JSON on SQLite (the embedded default)."""
    return postgresql.ARRAY(sa.String(length)).with_variant(sa.JSON(), "sqlite")


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def in_check(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint: `column IN ('a', 'b')`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _make_base() -> type[DeclarativeBase]:
    class Base(DeclarativeBase):
        metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
        type_annotation_map = {datetime: UTCDateTime()}

    return Base


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite is the embedded default: enforce foreign keys and let writers wait, not fail.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


class ServiceDatabase:
    """A service's database: its Base, the common tables (audit, outbox, idempotency) and sessions."""

    def __init__(self) -> None:
        self.Base = _make_base()
        self._define_common_models()
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        # Each database keeps its session under its own name in `g`, so that two services'
        # apps used from one process (as in tests) never hand out each other's session.
        self._g_key = f"db_session_{id(self)}"

    def _define_common_models(self) -> None:
        Base = self.Base

        class AuditEntry(Base):
            """Who changed what, when, with the state before and after."""

            __tablename__ = "audit_log"
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
            occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
            actor_id: Mapped[str | None] = mapped_column(sa.String(80), index=True)
            actor_role: Mapped[str | None] = mapped_column(sa.String(40))
            action: Mapped[str] = mapped_column(sa.String(80))
            object_type: Mapped[str] = mapped_column(sa.String(40))
            object_id: Mapped[str] = mapped_column(sa.String(80))
            before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
            after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
            request_id: Mapped[str | None] = mapped_column(sa.String(80))
            __table_args__ = (sa.Index("ix_audit_log_object", "object_type", "object_id"),)

        class OutboxEvent(Base):
            """An event written in the same transaction as the change it reports."""

            __tablename__ = "outbox"
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
            event_type: Mapped[str] = mapped_column(sa.String(80))
            aggregate_type: Mapped[str] = mapped_column(sa.String(40))
            aggregate_id: Mapped[str] = mapped_column(sa.String(80))
            payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
            occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
            published_at: Mapped[datetime | None] = mapped_column(index=True)
            attempts: Mapped[int] = mapped_column(default=0)
            last_error: Mapped[str | None] = mapped_column(sa.Text)

        class IdempotencyRecord(Base):
            """The first response to a create, replayed when the same key comes again."""

            __tablename__ = "idempotency_keys"
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
            scope: Mapped[str] = mapped_column(sa.String(120))
            key: Mapped[str] = mapped_column(sa.String(255))
            request_hash: Mapped[str] = mapped_column(sa.String(64))
            status_code: Mapped[int | None] = mapped_column()
            response_body: Mapped[str | None] = mapped_column(sa.Text)
            response_headers: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
            created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
            __table_args__ = (sa.UniqueConstraint("scope", "key"),)

        self.AuditEntry = AuditEntry
        self.OutboxEvent = OutboxEvent
        self.IdempotencyRecord = IdempotencyRecord

    @property
    def metadata(self) -> sa.MetaData:
        return self.Base.metadata

    def init_app(self, app: Flask) -> None:
        """Bind to the app's DATABASE_URL; one session per app context, closed at teardown."""
        url = app.config["DATABASE_URL"]
        self.engine = create_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        app.extensions["mitra_db"] = self

        @app.teardown_appcontext
        def _close_session(exc: BaseException | None) -> None:
            session = g.pop(self._g_key, None)
            if session is not None:
                session.close()

    @property
    def session(self) -> Session:
        """The session of the current app context (request or task)."""
        if not has_app_context():
            raise RuntimeError("db.session needs an app context")
        session = g.get(self._g_key)
        if session is None:
            assert self.session_factory is not None, "init_app was not called"
            session = self.session_factory()
            setattr(g, self._g_key, session)
        return session


def create_engine(url: str) -> Engine:
    """An engine with sane pool settings for PostgreSQL and SQLite."""
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def current_db() -> ServiceDatabase:
    from flask import current_app

    return current_app.extensions["mitra_db"]
