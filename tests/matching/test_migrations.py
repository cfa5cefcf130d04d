"""The matching schema comes from its Alembic migrations alone, on PostgreSQL and on the
embedded default (SQLite), and the migrations describe exactly the models, down to the
partial unique index that keeps two runs off the same need."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from services.matching import MIGRATIONS
from services.matching.models import db
from shared.migrations import downgrade, upgrade

MODEL_TABLES = set(db.metadata.tables)
HEAD = "0001"


def schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def check_constraints(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {table: {c["name"] for c in inspector.get_check_constraints(table)}
            for table in MODEL_TABLES}


def model_check_constraints() -> dict[str, set[str]]:
    return {table.name: {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
            for table in db.metadata.sorted_tables}


def head(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def one_active_run_per_need(engine: sa.Engine) -> None:
    """Autogenerate does not compare index predicates: check what the index does instead.
    Any number of finished runs may have covered a need, but only one active run holds it."""
    tables = db.metadata.tables
    now = datetime(2027, 1, 1, tzinfo=UTC)
    programme, need = uuid.uuid4(), uuid.uuid4()
    runs = [uuid.uuid4() for _ in range(3)]
    with engine.begin() as connection:
        connection.execute(sa.insert(tables["programmes"]).values(
            id=programme, name="Sekoper Cinta", region="32.75.11.1004",
            period_start=date(2027, 1, 1), period_end=date(2027, 12, 31), cohort_size=100,
            description="", created_at=now, version=1))
        connection.execute(sa.insert(tables["needs"]).values(
            id=need, programme_id=programme, kind="trainer", title="Pelatih", description="",
            topics=["kewirausahaan"], quantity=4, unit="sessions", window_start=date(2027, 1, 1),
            window_end=date(2027, 3, 1), region="32.75.11.1004", priority=3,
            accepted_modes=["onsite"], single_offer=False, excluded_organisations=[],
            status="open", covered=0, created_at=now, updated_at=now, version=1))
        connection.execute(sa.insert(tables["match_runs"]), [
            {"id": run, "status": "queued", "scope": {}, "weights": {}, "progress": 0.0,
             "phases": {}, "stats": {}, "created_at": now} for run in runs])
        connection.execute(sa.insert(tables["run_needs"]), [
            {"run_id": runs[0], "need_id": need, "active": False},
            {"run_id": runs[1], "need_id": need, "active": True}])
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(sa.insert(tables["run_needs"]).values(
            run_id=runs[2], need_id=need, active=True))


def test_upgrade_on_an_empty_postgresql_database_builds_exactly_the_models(make_database):
    url = make_database("matching_migrations")
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        upgrade(MIGRATIONS, url)
        assert set(sa.inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
        assert schema_differences(engine) == []
        # Autogenerate does not compare CHECK constraints: they must be there all the same.
        assert check_constraints(engine) == model_check_constraints()
        assert check_constraints(engine)["needs"] >= {"ck_needs_unit", "ck_needs_window"}
        [partial] = [i for i in sa.inspect(engine).get_indexes("run_needs")
                     if i["name"] == "uq_run_needs_active_need"]
        assert partial["unique"] and partial["dialect_options"]["postgresql_where"] == "active"
        assert head(engine) == HEAD
        one_active_run_per_need(engine)

        upgrade(MIGRATIONS, url)  # running it again is harmless
        assert head(engine) == HEAD

        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
        assert head(engine) is None

        upgrade(MIGRATIONS, url)  # and back up again from nothing
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_upgrade_builds_the_embedded_sqlite_database(tmp_path):
    path = tmp_path / "matching.db"
    url = f"sqlite:///{path}"
    upgrade(MIGRATIONS, url)
    assert path.exists()
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
        assert schema_differences(engine) == []
        assert check_constraints(engine) == model_check_constraints()
        assert head(engine) == HEAD
        one_active_run_per_need(engine)
        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()
