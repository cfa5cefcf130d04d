"""The active-offer snapshot the matching service matches against."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from services.partners.models import Offer, db
from services.partners.operations import organisations
from shared.clock import today_wib
from tests.partners.conftest import KOTA_BEKASI, MUSTIKAJAYA, SYSTEM, bearer

URL = "/api/v1/export/active-offers"


def snapshot(client, make) -> dict:
    response = client.get(URL, headers=bearer(make.service_token()))
    assert response.status_code == 200, response.json
    assert response.content_type == "application/json"
    assert response.json["count"] == len(response.json["offers"])
    return response.json


def reserve(client, make, offer_id, reference, quantity) -> None:
    response = client.post(f"/api/v1/offers/{offer_id}/reservations",
                           json={"reference": reference, "quantity": quantity},
                           headers=bearer(make.service_token()))
    assert response.status_code == 201, response.json


def test_an_active_offer_is_exported_with_what_matching_needs(client, make):
    organisation, admin = make.organisation(operating_regions=[MUSTIKAJAYA, "32.75.03"],
                                            sector="Perbankan")
    offer = make.offer(admin, kind="funding", title="Dana insentif fasilitator",
                       unit="rupiah", capacity=50_000_000,
                       topics=["insentif_fasilitator", "bahan_ajar"],
                       delivery_regions=[MUSTIKAJAYA, KOTA_BEKASI], mode="online")
    reserve(client, make, offer.id, "proposal-1", 20_000_000)
    body = snapshot(client, make)
    assert body["generated_at"]
    [exported] = body["offers"]
    assert exported["id"] == str(offer.id)
    assert (exported["kind"], exported["title"], exported["unit"], exported["mode"]) == (
        "funding", "Dana insentif fasilitator", "rupiah", "online")
    assert (exported["capacity"], exported["reserved"], exported["committed"],
            exported["remaining"]) == (50_000_000, 20_000_000, 0, 30_000_000)
    assert exported["topics"] == ["bahan_ajar", "insentif_fasilitator"]
    assert exported["delivery_regions"] == [KOTA_BEKASI, MUSTIKAJAYA]
    assert exported["available_from"] == today_wib().isoformat()
    assert exported["available_to"] == (today_wib() + timedelta(days=90)).isoformat()
    assert exported["organisation"] == {
        "id": str(organisation.id), "kind": "company", "name": organisation.name,
        "sector": "Perbankan", "address_region": organisation.address_region,
        "operating_regions": [MUSTIKAJAYA, "32.75.03"]}


def test_only_matchable_offers_are_exported(client, app, make):
    _, verified = make.organisation()
    _, pending = make.organisation(status="pending")
    suspended_org, suspended = make.organisation()
    live = make.offer(verified, title="Aktif")
    partly_used = make.offer(verified, title="Sebagian terpakai", capacity=5)
    reserve(client, make, partly_used.id, "proposal-1", 2)
    reserve(client, make, partly_used.id, "proposal-2", 1)
    client.post(f"/api/v1/offers/{partly_used.id}/reservations/proposal-2/commit",
                headers=bearer(make.service_token()))
    make.offer(verified, status="draft", title="Draf")
    submitted = make.offer(pending, title="Menunggu verifikasi")
    assert submitted.status == "submitted"
    make.offer(verified, status="withdrawn", title="Ditarik")
    exhausted = make.offer(verified, title="Habis", capacity=3)
    reserve(client, make, exhausted.id, "proposal-3", 3)
    ended = make.offer(verified, title="Jendela berakhir")
    make.offer(suspended, title="Organisasi diskors")
    with app.app_context():
        # the window closed yesterday, but the nightly expiry has not run yet
        db.session.execute(sa.update(Offer).where(Offer.id == ended.id).values(
            available_from=today_wib() - timedelta(days=30),
            available_to=today_wib() - timedelta(days=1)))
        organisations.change_status(db.session, SYSTEM, db.session.merge(suspended_org),
                                    "suspend", "Investigasi")
        db.session.commit()
    body = snapshot(client, make)
    assert {o["title"] for o in body["offers"]} == {"Aktif", "Sebagian terpakai"}
    assert body["count"] == 2
    used = next(o for o in body["offers"] if o["id"] == str(partly_used.id))
    assert (used["reserved"], used["committed"], used["remaining"]) == (2, 1, 2)
    assert next(o for o in body["offers"] if o["id"] == str(live.id))["remaining"] == 10


def test_an_offer_ending_today_is_still_exported(client, app, make):
    _, admin = make.organisation()
    offer = make.offer(admin, available_from=today_wib(), available_to=today_wib())
    assert [o["id"] for o in snapshot(client, make)["offers"]] == [str(offer.id)]


def test_releasing_capacity_brings_an_exhausted_offer_back(client, make):
    _, admin = make.organisation()
    offer = make.offer(admin, capacity=2)
    reserve(client, make, offer.id, "proposal-1", 2)
    assert snapshot(client, make)["offers"] == []
    client.post(f"/api/v1/offers/{offer.id}/reservations/proposal-1/release",
                headers=bearer(make.service_token()))
    [exported] = snapshot(client, make)["offers"]
    assert exported["remaining"] == 2


def test_an_empty_snapshot(client, make):
    body = snapshot(client, make)
    assert (body["count"], body["offers"]) == (0, [])
    assert datetime.fromisoformat(body["generated_at"]).tzinfo is not None


@pytest.mark.parametrize("role", ["partner_admin", "coordinator", "dp3a_officer",
                                  "dp3a_admin"])
def test_only_services_may_read_the_snapshot(client, make, role):
    _, admin = make.organisation()
    make.offer(admin)
    user = make.user(role, make.organisation()[0] if role == "partner_admin" else None)
    response = client.get(URL, headers=bearer(make.token(user)))
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert "offers" not in response.json


def test_the_snapshot_needs_a_token(client, make):
    _, admin = make.organisation()
    make.offer(admin)
    response = client.get(URL)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(URL, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
