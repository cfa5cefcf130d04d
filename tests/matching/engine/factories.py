"""Factories for the engine's inputs: sensible Kota Bekasi defaults, any field overridable."""
from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from services.matching.engine import Need, Offer, Organisation, match
from services.matching.engine.candidates import candidate_edges
from services.matching.engine.columns import build_columns

PROVINCE = "32"                  # Jawa Barat
KOTA_BEKASI = "32.75"
MUSTIKAJAYA = "32.75.11"         # kecamatan
MUSTIKASARI = "32.75.11.1004"    # kelurahan in Mustikajaya
PADURENAN = "32.75.11.1001"      # another kelurahan in Mustikajaya
BEKASI_TIMUR = "32.75.01"        # another kecamatan of Kota Bekasi
MARGAHAYU = "32.75.01.1002"      # kelurahan in Bekasi Timur
KAB_BEKASI = "32.16"
SUKARASA = "32.73.01.1001"       # Kota Bandung
JAKARTA = "31.71.01.1001"        # another province

_ids = itertools.count(1)


def make_org(**overrides: Any) -> Organisation:
    values: dict[str, Any] = {"id": f"org-{next(_ids)}", "kind": "company",
                              "name": "PT Contoh", "address_region": MUSTIKASARI,
                              "operating_regions": ()}
    values.update(overrides)
    values["operating_regions"] = tuple(values["operating_regions"])
    return Organisation(**values)


def make_need(**overrides: Any) -> Need:
    values: dict[str, Any] = {
        "id": f"need-{next(_ids)}", "kind": "trainer", "topics": ("kewirausahaan",),
        "quantity": 10, "unit": "sessions", "window_start": date(2027, 2, 1),
        "window_end": date(2027, 4, 30), "region": MUSTIKASARI, "priority": 3,
        "accepted_modes": {"onsite"}, "single_offer": False,
        "excluded_organisations": (),
        "description": "Pelatihan kewirausahaan untuk ibu-ibu kelas Sekoper Cinta",
    }
    values.update(overrides)
    values["topics"] = tuple(values["topics"])
    values["accepted_modes"] = frozenset(values["accepted_modes"])
    values["excluded_organisations"] = frozenset(values["excluded_organisations"])
    return Need(**values)


def make_offer(**overrides: Any) -> Offer:
    values: dict[str, Any] = {
        "id": f"offer-{next(_ids)}", "kind": "trainer", "topics": ("kewirausahaan",),
        "remaining": 20, "unit": "sessions", "available_from": date(2027, 1, 1),
        "available_to": date(2027, 12, 31), "mode": "onsite",
        "delivery_regions": (MUSTIKAJAYA,), "title": "Pelatih kewirausahaan",
        "description": "Narasumber kewirausahaan usaha mikro",
    }
    values.update(overrides)
    if "organisation" not in values:
        values["organisation"] = make_org()
    values["topics"] = tuple(values["topics"])
    values["delivery_regions"] = tuple(values["delivery_regions"])
    return Offer(**values)


def pairs(needs: list[Need], offers: list[Offer]) -> list[tuple[str, str]]:
    """The candidate (need id, offer id) pairs the engine generates, duplicates kept."""
    cols = build_columns(needs, offers)
    edges = candidate_edges(cols)
    return [(needs[n].id, offers[o].id)
            for n, o in zip(edges.need.tolist(), edges.offer.tolist(), strict=True)]


def is_pair(need: Need, offer: Offer) -> bool:
    """Whether the engine makes the need and the offer a candidate pair."""
    return pairs([need], [offer]) == [(need.id, offer.id)]


def components(need: Need, offer: Offer, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """The score components the engine explains for the one pair (which must be proposed)."""
    result = match([need], [offer], **kwargs)
    assert len(result.proposals) == 1, result.stats
    return result.proposals[0].explanation["score"]["components"]


def weighted_coverage(result: Any, needs: list[Need]) -> int:
    priority = {n.id: n.priority for n in needs}
    return sum(priority[p.need_id] * p.quantity for p in result.proposals)

