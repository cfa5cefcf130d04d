"""Page-numbered lists, the same in every service: `page` and `page_size` in the query,
the metadata in the `X-Pagination` header (flask-smorest's convention)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_smorest import Page
from sqlalchemy.orm import Session

from shared.db import current_db

MAX_PAGE_SIZE = 100


class SelectPage(Page):
    """flask-smorest Page over a SQLAlchemy `select()`: counts and slices in the database."""

    @property
    def items(self) -> list[Any]:
        if self.page_params.first_item >= (self.page_params.item_count or 0):
            # Past the end: nothing to fetch, and a huge page number would overflow OFFSET.
            return []
        statement = self.collection.limit(self.page_params.page_size).offset(
            self.page_params.first_item
        )
        return list(_session().scalars(statement))

    @property
    def item_count(self) -> int:
        count = sa.select(sa.func.count()).select_from(
            self.collection.order_by(None).subquery()
        )
        return _session().scalar(count) or 0


def _session() -> Session:
    return current_db().session


PAGINATION_ARGS = {"page": 1, "page_size": 20, "max_page_size": MAX_PAGE_SIZE}
