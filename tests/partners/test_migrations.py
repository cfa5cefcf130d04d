"""The partners schema comes from its Alembic migrations alone, on PostgreSQL and on the
embedded default (SQLite), and the migrations describe exactly the models."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.partners import MIGRATIONS
from services.partners.models import db
from shared.migrations import downgrade, upgrade
from tests.partners.conftest import SEEDED_TOPICS

MODEL_TABLES = set(db.metadata.tables)


def schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def check_constraints(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {table: {c["name"] for c in inspector.get_check_constraints(table)}
            for table in MODEL_TABLES}


def model_check_constraints() -> dict[str, set[str]]:
    return {table.name: {c.name for c in table.constraints
                         if isinstance(c, sa.CheckConstraint)}
            for table in db.metadata.sorted_tables}


def topic_codes(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.text("SELECT code FROM topics ORDER BY code")))


def test_upgrade_on_an_empty_postgresql_database_builds_exactly_the_models(make_database):
    url = make_database("migrations")
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        upgrade(MIGRATIONS, url)
        assert set(sa.inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
        assert schema_differences(engine) == []
        # Autogenerate does not compare CHECK constraints: they must be there all the same.
        assert check_constraints(engine) == model_check_constraints()
        assert any(check_constraints(engine).values())
        codes = topic_codes(engine)
        assert len(codes) == SEEDED_TOPICS == 19
        assert {"ketahanan_keluarga", "pemasaran_digital", "penelitian"} <= set(codes)
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0003"

        upgrade(MIGRATIONS, url)  # running it again is harmless
        assert len(topic_codes(engine)) == 19

        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 0

        upgrade(MIGRATIONS, url)  # and back up again from nothing
        assert schema_differences(engine) == []
        assert len(topic_codes(engine)) == 19
    finally:
        engine.dispose()


def test_upgrade_builds_the_embedded_sqlite_database(tmp_path):
    path = tmp_path / "partners.db"
    url = f"sqlite:///{path}"
    upgrade(MIGRATIONS, url)
    assert path.exists()
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
        assert schema_differences(engine) == []
        assert check_constraints(engine) == model_check_constraints()
        assert len(topic_codes(engine)) == SEEDED_TOPICS
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0003"
        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()
