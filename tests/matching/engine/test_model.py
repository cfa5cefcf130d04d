"""The engine's inputs, built from the matching service's rows and the partners export."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.matching.engine import MODES, ModelError, Need, Offer, Weights

EXPORTED = {  # one item of GET /api/v1/export/active-offers, as partners serialises it
    "id": "8d0f7a3e-7a55-4e1b-9a43-1f0d2c9b6e11", "kind": "trainer",
    "title": "Pelatih pemasaran digital", "description": "Kelas pemasaran digital untuk UMKM",
    "unit": "sessions", "capacity": 20, "reserved": 3, "committed": 5, "remaining": 12,
    "available_from": "2027-01-01", "available_to": "2027-06-30", "mode": "hybrid",
    "language": "id", "topics": ["pemasaran_digital"], "delivery_regions": ["32.75.11"],
    "organisation": {"id": "1c9e2f7a-0000-4000-8000-000000000001", "kind": "university",
                     "name": "Universitas Contoh", "sector": None,
                     "address_region": "32.75.11.1004", "operating_regions": ["32.75.11"]},
}
NEED = {"id": "n-1", "kind": "trainer", "topics": ["pemasaran_digital"], "quantity": 6,
        "unit": "sessions", "window_start": "2027-02-01", "window_end": "2027-03-31",
        "region": "32.75.11.1004"}


def test_an_offer_from_the_partners_export() -> None:
    offer = Offer.from_export(EXPORTED)
    assert offer.remaining == 12
    assert (offer.available_from, offer.available_to) == (date(2027, 1, 1), date(2027, 6, 30))
    assert offer.organisation.operating_regions == ("32.75.11",)
    assert offer.organisation.kind == "university"


def test_remaining_is_derived_when_the_export_leaves_it_out() -> None:
    data = {k: v for k, v in EXPORTED.items() if k != "remaining"}
    assert Offer.from_export(data).remaining == 12


def test_a_need_with_defaults() -> None:
    need = Need.from_dict(NEED)
    assert need.priority == 3
    assert need.accepted_modes == frozenset(MODES)
    assert need.single_offer is False
    assert need.excluded_organisations == frozenset()


def test_funding_purposes_are_its_topics() -> None:
    need = Need.from_dict({**{k: v for k, v in NEED.items() if k != "topics"},
                           "kind": "funding", "unit": "rupiah", "quantity": 50_000_000,
                           "purposes": ["insentif_fasilitator"]})
    assert need.topics == ("insentif_fasilitator",)


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "money"}, "kind"),
    ({"unit": "liters"}, "unit"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": 2.5}, "quantity"),
    ({"quantity": 100_000_000_001}, "quantity"),
    ({"region": "32-75-11"}, "region"),
    ({"region": "32.75.11.1004.9"}, "region"),
    ({"window_start": "soon"}, "window_start"),
    ({"window_end": "2027-01-01"}, "window_end"),
    ({"priority": 6}, "priority"),
    ({"priority": True}, "priority"),
    ({"accepted_modes": ["by post"]}, "accepted_modes"),
    ({"topics": []}, "topics"),
    ({"topics": "kewirausahaan"}, "topics"),
])
def test_a_bad_need_is_refused_with_the_field_named(change: dict[str, Any],
                                                    field: str) -> None:
    with pytest.raises(ModelError, match=field):
        Need.from_dict({**NEED, **change})


def test_a_need_without_a_required_field_is_refused() -> None:
    with pytest.raises(ModelError, match="quantity is required"):
        Need.from_dict({k: v for k, v in NEED.items() if k != "quantity"})


@pytest.mark.parametrize(("change", "field"), [
    ({"mode": "by post"}, "mode"),
    ({"remaining": -1}, "remaining"),
    ({"available_to": "2026-12-31"}, "available_to"),
    ({"delivery_regions": ["Bekasi"]}, "delivery_regions"),
])
def test_a_bad_offer_is_refused_with_the_field_named(change: dict[str, Any],
                                                     field: str) -> None:
    with pytest.raises(ModelError, match=field):
        Offer.from_export({**EXPORTED, **change})


def test_weights_default_and_override() -> None:
    assert Weights.from_dict(None) == Weights()
    assert Weights.from_dict({"proximity": 5}).proximity == 5
    with pytest.raises(ModelError, match="unknown"):
        Weights.from_dict({"distance": 1})
