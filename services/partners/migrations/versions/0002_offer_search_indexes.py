"""indexes for the offer search: covering indexes on the topic and region links, and
status + kind + created_at (+ id) on offers

The search filters offers by topic and region through the link tables and by status and
kind on offers, counts the matches, and pages them newest first. With offer_id in the link
indexes and id in the offers index, PostgreSQL answers the count from the indexes alone
(index-only scans joined by hash) instead of visiting the tables; the offers index also gives
the newest-first order for a status + kind filter. Each new index starts with the columns of
the one it replaces, so nothing that used the old ones loses out.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:00:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_offer_topics_topic_code_offer_id', 'offer_topics',
                    ['topic_code', 'offer_id'], unique=False)
    op.drop_index('ix_offer_topics_topic_code', table_name='offer_topics')
    op.create_index('ix_offer_regions_region_code_offer_id', 'offer_regions',
                    ['region_code', 'offer_id'], unique=False)
    op.drop_index('ix_offer_regions_region_code', table_name='offer_regions')
    op.create_index('ix_offers_status_kind_created_at', 'offers',
                    ['status', 'kind', 'created_at', 'id'], unique=False)
    op.drop_index('ix_offers_status_kind', table_name='offers')


def downgrade() -> None:
    op.create_index('ix_offers_status_kind', 'offers', ['status', 'kind'], unique=False)
    op.drop_index('ix_offers_status_kind_created_at', table_name='offers')
    op.create_index('ix_offer_regions_region_code', 'offer_regions', ['region_code'],
                    unique=False)
    op.drop_index('ix_offer_regions_region_code_offer_id', table_name='offer_regions')
    op.create_index('ix_offer_topics_topic_code', 'offer_topics', ['topic_code'], unique=False)
    op.drop_index('ix_offer_topics_topic_code_offer_id', table_name='offer_topics')
