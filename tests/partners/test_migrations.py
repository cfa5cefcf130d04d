"""The partners schema comes from its Alembic migrations alone, on PostgreSQL and on the
embedded default (SQLite), and the migrations describe exactly the models."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session

from services.partners import MIGRATIONS
from services.partners.models import Offer, db
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
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0004"

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
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0004"
        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()


def _offer_at_0003(engine: sa.Engine) -> str:
    """An offer with two topics and two regions, written as the 0003 schema holds it."""
    offer_id = "5c3d6c54-4b8f-4a64-9b0e-0f2c5e0d4a11"
    organisation_id = "0e9a0f5e-7d7b-4f0e-8a55-7f6c2b1a9d22"
    statements = [
        ("INSERT INTO organisations (id, kind, name, address_region, operating_regions, "
         "contact_name, contact_email, contact_phone, status, is_agency, registered_at, version)"
         " VALUES (:org, 'company', 'PT Migrasi', '32.75', :ops, 'K', 'k@m.example', "
         "'+6281200000000', 'verified', false, '2026-01-01', 1)"),
        ("INSERT INTO offers (id, organisation_id, kind, title, description, unit, capacity, "
         "reserved, committed, available_from, available_to, mode, language, status, "
         "created_at, updated_at, version) VALUES (:id, :org, 'trainer', 'T', '', 'sessions', "
         "5, 0, 0, '2026-01-01', '2026-12-31', 'onsite', 'id', 'active', '2026-01-01', "
         "'2026-01-01', 1)"),
        "INSERT INTO offer_topics VALUES (:id, 'pemasaran_digital'), (:id, 'kewirausahaan')",
        "INSERT INTO offer_regions VALUES (:id, '32.75.11'), (:id, '32.75.03')",
    ]
    if engine.dialect.name == "sqlite":  # SQLAlchemy keeps UUIDs there as 32 hex digits
        ids = {"id": uuid.UUID(offer_id).hex, "org": uuid.UUID(organisation_id).hex}
    else:
        ids = {"id": offer_id, "org": organisation_id}
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), {**ids, "ops": '["32.75"]'})
    return offer_id


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0004_copies_existing_topics_and_regions_onto_the_offers(dialect, make_database,
                                                                  tmp_path):
    url = make_database("migration_0004") if dialect == "postgresql" else (
        f"sqlite:///{tmp_path / 'partners.db'}")
    upgrade(MIGRATIONS, url, "0003")
    engine = sa.create_engine(url)
    try:
        offer_id = _offer_at_0003(engine)
        upgrade(MIGRATIONS, url)
        with Session(engine) as session:
            offer = session.get(Offer, uuid.UUID(offer_id))
            assert offer.topic_codes == ["kewirausahaan", "pemasaran_digital"]
            assert offer.region_codes == ["32.75.03", "32.75.11"]
    finally:
        engine.dispose()
