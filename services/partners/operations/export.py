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
    frees everything as usual; the collector runs again once we are done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def active_offers(session: Session, today: date) -> list[dict[str, Any]]:
    """Every matchable offer: active, of a verified organisation, window not over, capacity
    left; with its organisation's attributes. Four flat queries, no per-offer round trips."""
    live = (Offer.status == "active") & (Organisation.status == "verified") & (
        Offer.available_to >= today) & (Offer.capacity > Offer.reserved + Offer.committed)
    with gc_paused():
        rows = session.execute(
            select(Offer.id, Offer.organisation_id, Offer.kind, Offer.title, Offer.description,
                   Offer.unit, Offer.capacity, Offer.reserved, Offer.committed,
                   Offer.available_from, Offer.available_to, Offer.mode, Offer.language)
            .join(Organisation, Offer.organisation_id == Organisation.id)
            .where(live).order_by(Offer.id)
        ).all()
        # Each organisation once (not once per offer): by the ids above, so an organisation
        # whose status changes meanwhile is still found.
        organisations: dict[Any, dict[str, Any]] = {}
        wanted = sorted({row[1] for row in rows})
        for start in range(0, len(wanted), ORGANISATION_BATCH):
            for org in session.execute(
                    select(Organisation.id, Organisation.kind, Organisation.name,
                           Organisation.sector, Organisation.address_region,
                           Organisation.operating_regions)
                    .where(Organisation.id.in_(wanted[start:start + ORGANISATION_BATCH]))):
                organisations[org[0]] = {
                    "id": org[0], "kind": org[1], "name": org[2], "sector": org[3],
                    "address_region": org[4], "operating_regions": org[5] or []}
        live_ids = select(Offer.id).join(Organisation).where(live).scalar_subquery()
        topics: dict[Any, list[str]] = defaultdict(list)
        for offer_id, code in session.execute(
                select(OfferTopic.offer_id, OfferTopic.topic_code)
                .where(OfferTopic.offer_id.in_(live_ids))):
            topics[offer_id].append(code)
        regions: dict[Any, list[str]] = defaultdict(list)
        for offer_id, code in session.execute(
                select(OfferRegion.offer_id, OfferRegion.region_code)
                .where(OfferRegion.offer_id.in_(live_ids))):
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
