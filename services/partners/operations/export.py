"""The active-offer snapshot the matching service matches against."""
from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.partners.models import Offer, OfferRegion, OfferTopic, Organisation

ORGANISATION_BATCH = 5000  # ids per "WHERE id IN (...)"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Build a large result without the cyclic garbage collector running over and over.

    A snapshot of 50,000 offers makes about a million small objects (rows, tuples, dicts,
    lists) and no reference cycles; each of them counts towards the next collection, so the
    collector would otherwise run hundreds of times over a heap that only grows, which took
    three quarters of the export's time (bench/partners_api.py). Reference counting still
    frees everything as usual; the collector runs again once we are done.

    What was built meanwhile (and is still alive: the snapshot being returned) is first moved
    to the oldest generation (freeze, then unfreeze), so that the first young collection
    after this does not traverse all of it once more."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def active_offers(session: Session, today: date) -> list[dict[str, Any]]:
    """Every matchable offer: active, of a verified organisation, window not over, capacity
    left; with its organisation's attributes. Four flat queries, no per-offer round trips,
    run as Core statements on the session's connection (plain rows: the ORM's per-row work
    is not needed for columns), each fetched whole (fetchall is done in C; iterating a
    result fetches row by row in Python)."""
    live = (Offer.status == "active") & (Organisation.status == "verified") & (
        Offer.available_to >= today) & (Offer.capacity > Offer.reserved + Offer.committed)
    connection = session.connection()
    with gc_paused():
        rows = connection.execute(
            select(Offer.id, Offer.organisation_id, Offer.kind, Offer.title, Offer.description,
                   Offer.unit, Offer.capacity, Offer.reserved, Offer.committed,
                   Offer.available_from, Offer.available_to, Offer.mode, Offer.language)
            .join(Organisation, Offer.organisation_id == Organisation.id)
            .where(live).order_by(Offer.id)
        ).all()
        # Each organisation once (not once per offer): those with an active offer, in one
        # query (a subquery, not thousands of ids to bind); then, by id, any organisation of
        # an offer above that this missed (the offer changed in between), so that every
        # offer finds its organisation even when its status changes meanwhile.
        organisations: dict[Any, dict[str, Any]] = {}

        def add_organisations(condition: Any) -> None:
            for org in connection.execute(
                    select(Organisation.id, Organisation.kind, Organisation.name,
                           Organisation.sector, Organisation.address_region,
                           Organisation.operating_regions).where(condition)).all():
                organisations[org[0]] = {
                    "id": org[0], "kind": org[1], "name": org[2], "sector": org[3],
                    "address_region": org[4], "operating_regions": org[5] or []}

        add_organisations(Organisation.id.in_(
            select(Offer.organisation_id).where(Offer.status == "active")))
        missing = sorted({row[1] for row in rows} - organisations.keys())
        for start in range(0, len(missing), ORGANISATION_BATCH):
            add_organisations(Organisation.id.in_(missing[start:start + ORGANISATION_BATCH]))
        live_ids = select(Offer.id).join(Organisation).where(live).scalar_subquery()
        topics: dict[Any, list[str]] = defaultdict(list)
        for offer_id, code in connection.execute(
                select(OfferTopic.offer_id, OfferTopic.topic_code)
                .where(OfferTopic.offer_id.in_(live_ids))).all():
            topics[offer_id].append(code)
        regions: dict[Any, list[str]] = defaultdict(list)
        for offer_id, code in connection.execute(
                select(OfferRegion.offer_id, OfferRegion.region_code)
                .where(OfferRegion.offer_id.in_(live_ids))).all():
            regions[offer_id].append(code)
        return [
            {
                "id": row[0], "kind": row[2], "title": row[3], "description": row[4],
                "unit": row[5], "capacity": row[6], "reserved": row[7], "committed": row[8],
                "remaining": row[6] - row[7] - row[8], "available_from": row[9],
                "available_to": row[10], "mode": row[11], "language": row[12],
                "topics": sorted(topics[row[0]]), "delivery_regions": sorted(regions[row[0]]),
                "organisation": _organisation_copy(organisations[row[1]]),
            }
            for row in rows
        ]


def _organisation_copy(organisation: dict[str, Any]) -> dict[str, Any]:
    """Every offer gets its own organisation dict, as when each row carried its own."""
    return {**organisation, "operating_regions": list(organisation["operating_regions"])}
