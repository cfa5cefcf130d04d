"""offers.topic_codes and offers.region_codes: copies of the link tables, and one GIN index
over kind, status, topics and regions (btree_gin on PostgreSQL) for the offer search

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COPIES = (("topic_codes", 40, "offer_topics", "topic_code"),
          ("region_codes", 20, "offer_regions", "region_code"))


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("offers") as batch:
        for column, length, _, _ in COPIES:
            batch.add_column(sa.Column(column, shared.db.string_list(length), nullable=True))
    for column, _, table, code in COPIES:
        if postgresql:
            op.execute(f"UPDATE offers SET {column} = ARRAY(SELECT l.{code} FROM {table} l "
                       f"WHERE l.offer_id = offers.id ORDER BY l.{code})")
        else:
            op.execute(f"UPDATE offers SET {column} = (SELECT json_group_array({code}) FROM "
                       f"(SELECT l.{code} FROM {table} l WHERE l.offer_id = offers.id "
                       f"ORDER BY l.{code}))")
    with op.batch_alter_table("offers") as batch:
        for column, length, _, _ in COPIES:
            batch.alter_column(column, existing_type=shared.db.string_list(length),
                               nullable=False)
    if postgresql:
        # A trusted extension: the database's owner may create it. It lets the scalar columns
        # join the arrays in one GIN index.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_index("ix_offers_search", "offers",
                    ["kind", "status", "topic_codes", "region_codes"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_offers_search", table_name="offers")
    with op.batch_alter_table("offers") as batch:
        for column, _, _, _ in COPIES:
            batch.drop_column(column)
