"""The notify schema comes from its Alembic migrations alone, on PostgreSQL and on the
embedded default (SQLite): the migrations describe exactly the models, seed version 1 of all
90 templates (15 event types x email/in-app/Apprise x Indonesian/English), and go back down
to nothing."""
from __future__ import annotations

import itertools

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.notify import MIGRATIONS
from services.notify.catalogue import KINDS, sample_context
from services.notify.models import LOCALES, TEMPLATED_CHANNELS
from services.notify.models import db as notify_db
from services.notify.operations.templates import defaults
from services.notify.rendering import render
from shared.migrations import downgrade, upgrade

MODEL_TABLES = set(notify_db.metadata.tables)
HEAD = "0001"


def schema_differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, notify_db.metadata)


def check_constraints(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {table: {c["name"] for c in inspector.get_check_constraints(table)}
            for table in MODEL_TABLES}


def model_check_constraints() -> dict[str, set[str]]:
    return {table.name: {c.name for c in table.constraints
                         if isinstance(c, sa.CheckConstraint)}
            for table in notify_db.metadata.sorted_tables}


def templates(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(
            "SELECT event_type, channel, locale, version, subject, body_text, body_html, "
            "created_by FROM templates ORDER BY event_type, channel, locale")))


def version(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def check_seeded_templates(engine: sa.Engine) -> None:
    rows = templates(engine)
    keys = {(r.event_type, r.channel, r.locale) for r in rows}
    assert len(rows) == len(keys) == 90 == len(KINDS) * len(TEMPLATED_CHANNELS) * len(LOCALES)
    assert keys == {(k.event_type, c, loc) for k, c, loc in itertools.product(
        KINDS, TEMPLATED_CHANNELS, LOCALES)}
    assert {(r.version, r.created_by) for r in rows} == {(1, "migration")}
    assert all((r.body_html is not None) == (r.channel == "email") for r in rows)
    by_key = {(r.event_type, r.channel, r.locale): r for r in rows}
    for row in defaults():
        stored = by_key[(row["event_type"], row["channel"], row["locale"])]
        assert (stored.subject, stored.body_text, stored.body_html) == (
            row["subject"], row["body_text"], row["body_html"])


def test_upgrade_on_an_empty_postgresql_database_builds_exactly_the_models(make_database):
    url = make_database("notify_migrations")
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        upgrade(MIGRATIONS, url)
        assert set(sa.inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
        assert schema_differences(engine) == []
        # Autogenerate does not compare CHECK constraints: they must be there all the same.
        assert check_constraints(engine) == model_check_constraints()
        assert check_constraints(engine)["notifications"] == {"ck_notifications_channel",
                                                             "ck_notifications_status"}
        assert version(engine) == HEAD
        check_seeded_templates(engine)

        upgrade(MIGRATIONS, url)  # running it again is harmless
        assert len(templates(engine)) == 90

        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 0

        upgrade(MIGRATIONS, url)  # and back up again from nothing
        assert schema_differences(engine) == []
        check_seeded_templates(engine)
    finally:
        engine.dispose()


def test_the_constraints_hold_in_the_database(make_database):
    """What the models promise is enforced by PostgreSQL itself, not only by the code."""
    url = make_database("notify_constraints")
    upgrade(MIGRATIONS, url)
    engine = sa.create_engine(url)
    try:
        for statement in (
            # a second version 1 of a template
            ("INSERT INTO templates (id, event_type, channel, locale, version, subject, "
             "body_text, created_at) VALUES (gen_random_uuid(), 'offer.expiring', 'email', "
             "'id', 1, 's', 't', now())"),
            # a template for a channel that has none (webhooks carry the event)
            ("INSERT INTO templates (id, event_type, channel, locale, version, subject, "
             "body_text, created_at) VALUES (gen_random_uuid(), 'offer.expiring', 'webhook', "
             "'id', 1, 's', 't', now())"),
            # a language the service does not speak
            ("INSERT INTO recipients (id, email, name, region_codes, locale, is_active, "
             "updated_at, version) VALUES (gen_random_uuid(), 'a@b.example', 'A', '[]', "
             "'fr', true, now(), 1)"),
        ):
            with engine.begin() as connection:
                try:
                    connection.execute(sa.text(statement))
                except sa.exc.IntegrityError:
                    continue
            raise AssertionError(f"the database accepted: {statement}")
    finally:
        engine.dispose()


def test_upgrade_builds_the_embedded_sqlite_database(tmp_path):
    path = tmp_path / "notify.db"
    url = f"sqlite:///{path}"
    upgrade(MIGRATIONS, url)
    assert path.exists()
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
        assert schema_differences(engine) == []
        assert check_constraints(engine) == model_check_constraints()
        assert version(engine) == HEAD
        check_seeded_templates(engine)
        downgrade(MIGRATIONS, url, "base")
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()


def test_every_seeded_template_renders_with_its_events_example():
    """What the migration seeds, checked the way an edit is (locale by locale)."""
    for row in defaults():
        context = sample_context(row["event_type"], row["locale"])
        for part in ("subject", "body_text"):
            assert "{{" not in render(row[part], context)
        if row["body_html"]:
            assert render(row["body_html"], context, html=True).startswith("<div")
