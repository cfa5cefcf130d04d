"""The active-offer snapshot the matching service matches against."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.partners.models import Offer, OfferRegion, OfferTopic, Organisation


def active_offers(session: Session, today: date) -> list[dict[str, Any]]:
    """Every matchable offer: active, of a verified organisation, window not over, capacity
    left; with its organisation's attributes. Three flat queries, no per-offer round trips."""
    live = (Offer.status == "active") & (Organisation.status == "verified") & (
        Offer.available_to >= today) & (Offer.capacity > Offer.reserved + Offer.committed)
    rows = session.execute(
        select(Offer.id, Offer.organisation_id, Offer.kind, Offer.title, Offer.description,
               Offer.unit, Offer.capacity, Offer.reserved, Offer.committed,
               Offer.available_from, Offer.available_to, Offer.mode, Offer.language,
               Organisation.kind, Organisation.name, Organisation.sector,
               Organisation.address_region, Organisation.operating_regions)
        .join(Organisation, Offer.organisation_id == Organisation.id)
        .where(live).order_by(Offer.id)
    ).all()
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
            "organisation": {"id": row[1], "kind": row[13], "name": row[14], "sector": row[15],
                             "address_region": row[16], "operating_regions": row[17] or []},
        }
        for row in rows
    ]
