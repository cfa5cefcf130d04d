"""Coordinators' pages: their kelurahan's needs (list, post, detail, cancel), the help
approved for them, and confirming a delivery with a rating; refused to other roles."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.matching.models import Delivery, Need, Proposal
from services.matching.models import db as matching_db
from tests.partners.conftest import bearer
from tests.portal.conftest import Portal, text, wait_for
from tests.portal.officers import (
    TODAY,
    api,
    created_id,
    need_fields,
    person_of,
    signed_in,
)

ARENJAYA = "32.75.01.1004"      # Bekasi Timur
JATIMEKAR = "32.75.09.1001"     # Jatiasih

COORDINATOR_PAGES = ("/koordinator/kebutuhan", "/koordinator/kebutuhan/baru",
                     "/koordinator/bantuan")


@pytest.fixture
def officer_h(system):
    return bearer(system.make.token(system.make.user("dp3a_officer")))


def programme(system, officer_h, region: str) -> str:
    return api(system, "matching", "POST", "/api/v1/programmes", officer_h, json={
        "name": f"Sekoper Cinta {region}", "region": region, "period_start": str(TODAY),
        "period_end": str(TODAY + timedelta(days=300)), "cohort_size": 100})["id"]


def coordinator_of(system, region: str):
    return person_of(system, system.make.user("coordinator", region_codes=[region]))


def test_each_page_is_for_coordinators_and_refused_to_others(system, people):
    coordinator = signed_in(system, people.staff("coordinator"))
    for path in COORDINATOR_PAGES:
        assert coordinator.get(path).status_code == 200, path
    for person in (people.staff("dp3a_officer"), people.partner_admin()):
        other = signed_in(system, person)
        for path in COORDINATOR_PAGES:
            assert other.get(path).status_code == 403, path
    assert Portal(system.portal.test_client()).get(COORDINATOR_PAGES[0]).status_code == 302


def test_post_see_and_cancel_a_need_of_her_kelurahan(system, people, officer_h):
    programme_id = programme(system, officer_h, ARENJAYA)
    user = coordinator_of(system, ARENJAYA)
    portal = signed_in(system, user)
    form = portal.get("/koordinator/kebutuhan/baru")
    assert f"Sekoper Cinta {ARENJAYA}" in text(form)  # her kelurahan's programme
    assert f'value="{ARENJAYA}"' in form.get_data(as_text=True)

    refused = portal.submit("/koordinator/kebutuhan/baru", {
        "programme_id": programme_id, **need_fields(ARENJAYA, title="")})
    assert refused.status_code == 422
    assert 'id="title-error"' in refused.get_data(as_text=True)
    assert 'value="4"' in refused.get_data(as_text=True)  # the quantity typed is kept

    response = portal.submit("/koordinator/kebutuhan/baru", {
        "programme_id": programme_id,
        **need_fields(ARENJAYA, title="Modul literasi digital", kind="module", unit="seats",
                      quantity="40", topics=["literasi_digital"])}, follow=False)
    need_id = created_id(response)
    with matching_db.session_factory() as session:
        need = session.get(Need, uuid.UUID(need_id))
        assert (need.title, need.quantity, need.region, need.created_by) == (
            "Modul literasi digital", 40, ARENJAYA, user.id)

    listing = text(portal.get("/koordinator/kebutuhan"))
    assert "Modul literasi digital" in listing and "Terbuka" in listing
    detail = portal.get(f"/koordinator/kebutuhan/{need_id}")
    assert "40 kursi" in text(detail) and "Batalkan kebutuhan ini" in text(detail)

    page = portal.submit(f"/koordinator/kebutuhan/{need_id}", {},
                         action=f"/koordinator/kebutuhan/{need_id}/batal")
    assert "Kebutuhan sudah dibatalkan." in text(page)
    with matching_db.session_factory() as session:
        assert session.get(Need, uuid.UUID(need_id)).status == "cancelled"

    # Another kelurahan's coordinator does not see it.
    stranger = signed_in(system, people.staff("coordinator"))  # Mustikasari
    assert "Modul literasi digital" not in text(stranger.get("/koordinator/kebutuhan"))
    assert stranger.get(f"/koordinator/kebutuhan/{need_id}").status_code == 404


def test_confirming_delivery_fulfils_the_proposal_with_the_rating(system, people, officer_h):
    """An approved and accepted match: the coordinator confirms it and rates it 4."""
    programme_id = programme(system, officer_h, JATIMEKAR)
    user = coordinator_of(system, JATIMEKAR)
    coordinator_h = user.headers
    _, company = system.make.organisation(name="PT Pelatih Jatimekar")
    system.make.offer(company, delivery_regions=[JATIMEKAR], title="Pelatih Jatimekar")
    need = api(system, "matching", "POST", "/api/v1/needs", coordinator_h, json={
        "programme_id": programme_id, "kind": "trainer", "title": "Pelatih pemasaran digital",
        "topics": ["pemasaran_digital"], "quantity": 3, "unit": "sessions",
        "window_start": str(TODAY), "window_end": str(TODAY + timedelta(days=60)),
        "region": JATIMEKAR, "accepted_modes": ["onsite"]})
    run = api(system, "matching", "POST", "/api/v1/match-runs", officer_h,
              json={"programme_id": programme_id})
    wait_for(lambda: api(system, "matching", "GET", f"/api/v1/match-runs/{run['id']}",
                         officer_h)["status"] == "succeeded", 60, "the run")
    [proposal] = api(system, "matching", "GET", "/api/v1/proposals", officer_h,
                     query_string={"need_id": need["id"]})
    api(system, "matching", "POST", f"/api/v1/proposals/{proposal['id']}/approve", officer_h)
    api(system, "matching", "POST", f"/api/v1/proposals/{proposal['id']}/accept",
        bearer(system.make.token(company)))

    portal = signed_in(system, user)
    waiting = text(portal.get("/koordinator/bantuan"))
    assert "Pelatih Jatimekar" in waiting and "Diterima" in waiting
    path = f"/koordinator/bantuan/{proposal['id']}/diterima"
    form = portal.get(path)
    assert 'value="3"' in form.get_data(as_text=True)  # the approved quantity, to confirm

    refused = portal.submit(path, {"delivered_quantity": "3", "notes": "Kelas penuh"})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'id="rating-error"' in body and "Kelas penuh</textarea>" in body

    page = portal.submit(path, {"delivered_quantity": "3", "rating": "4",
                                "notes": "Kelas penuh, materi jelas",
                                "facilitator_notes": "Fasilitator sigap"})
    assert "Terima kasih: penerimaan sudah dikonfirmasi dan dinilai." in text(page)
    assert "Pelatih pemasaran digital" in text(page) and "Tersalurkan" in text(page)
    with matching_db.session_factory() as session:
        assert session.get(Proposal, uuid.UUID(proposal["id"])).status == "fulfilled"
        delivery = session.scalar(sa.select(Delivery).where(
            Delivery.proposal_id == uuid.UUID(proposal["id"])))
        assert (delivery.rating, delivery.delivered_quantity, delivery.notes,
                delivery.facilitator_notes, delivery.confirmed_by) == (
            4, 3, "Kelas penuh, materi jelas", "Fasilitator sigap", user.id)
