"""The partner's proposals (with their explanation), accepting and declining, and the
deliveries and ratings received: matching really runs (its Celery worker), DP3A approves and
the coordinator confirms through the APIs, the partner acts in the portal."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from services.partners.models import db as partners_db
from shared.clock import today_wib
from tests.portal.conftest import Portal, api_json, text
from tests.portal.test_partner import MUSTIKASARI, _user


def approved_proposal(system, people, partner) -> dict[str, Any]:
    """An active trainer offer of `partner`, a Mustikasari need, a finished run and DP3A's
    approval; returns the approved proposal."""
    officer = people.staff("dp3a_officer")
    # Only this partner's offer can match: earlier tests' offers are withdrawn.
    with partners_db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE offers SET status = 'withdrawn', withdrawn_at = now() "
                                   "WHERE status = 'active'"))
    system.make.offer(_user(system, partner), capacity=10)
    programme = api_json(system.matching, "POST", "/api/v1/programmes", officer.headers, 201,
                         json={"name": "Sekoper Cinta Kelurahan Mustikasari 2027",
                               "region": MUSTIKASARI, "period_start": str(today_wib()),
                               "period_end": str(today_wib() + timedelta(days=300)),
                               "cohort_size": 100})
    need = api_json(system.matching, "POST", "/api/v1/needs", officer.headers, 201, json={
        "programme_id": programme["id"], "kind": "trainer",
        "title": "Pelatih pemasaran digital", "topics": ["pemasaran_digital"], "quantity": 4,
        "unit": "sessions", "window_start": str(today_wib()),
        "window_end": str(today_wib() + timedelta(days=60)), "region": MUSTIKASARI,
        "priority": 4})
    response = system.matching.test_client().post(
        "/api/v1/match-runs", json={"programme_id": programme["id"]}, headers=officer.headers)
    assert response.status_code == 202, response.json
    location = response.headers["Location"]
    deadline = time.monotonic() + 60
    while (run := api_json(system.matching, "GET", location, officer.headers))["status"] in (
            "queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    assert run["status"] == "succeeded", run
    [proposal] = api_json(system.matching, "GET", "/api/v1/proposals", officer.headers,
                          query_string={"need_id": need["id"]})
    return api_json(system.matching, "POST", f"/api/v1/proposals/{proposal['id']}/approve",
                    officer.headers)


def test_the_partner_sees_accepts_and_later_reads_the_rating(system, people,
                                                             portal: Portal) -> None:
    partner = people.partner_admin()
    proposal = approved_proposal(system, people, partner)
    portal.sign_in(partner)
    listing = portal.get("/usulan")
    assert "Pelatih pemasaran digital" in text(listing) and "Disetujui" in text(listing)
    page = portal.get(f"/usulan/{proposal['id']}")
    assert "Mengapa dipasangkan" in text(page) and "Kecocokan topik" in text(page)
    assert "Setidaknya satu topik sama" in text(page)

    page = portal.submit(f"/usulan/{proposal['id']}", {},
                         action=f"/usulan/{proposal['id']}/terima")
    assert "Anda menerima usulan ini." in text(page) and "Diterima" in text(page)
    assert api_json(system.matching, "GET", f"/api/v1/proposals/{proposal['id']}",
                    partner.headers)["status"] == "accepted"

    coordinator = people.staff("coordinator")
    api_json(system.matching, "POST", f"/api/v1/proposals/{proposal['id']}/delivery",
             coordinator.headers, 201, json={"delivered_quantity": 4, "rating": 5,
                                             "notes": "Materi sangat membantu"})
    deliveries = portal.get("/penyaluran")
    assert "Materi sangat membantu" in text(deliveries) and "5 dari 5" in text(deliveries)
    assert "4 sesi" in text(deliveries)


def test_declining_needs_a_reason_shown_next_to_the_field(system, people,
                                                         portal: Portal) -> None:
    partner = people.partner_admin()
    proposal = approved_proposal(system, people, partner)
    portal.sign_in(partner)
    page = portal.submit(f"/usulan/{proposal['id']}?lang=en", {"reason": "no"})
    assert page.status_code == 422
    assert 'id="reason-error"' in page.get_data(as_text=True)
    assert api_json(system.matching, "GET", f"/api/v1/proposals/{proposal['id']}",
                    partner.headers)["status"] == "approved"
    page = portal.submit(f"/usulan/{proposal['id']}?lang=id",
                         {"reason": "Pelatih kami sedang penuh bulan ini"})
    assert "Anda menolak usulan ini" in text(page)
    declined = api_json(system.matching, "GET", f"/api/v1/proposals/{proposal['id']}",
                        partner.headers)
    assert (declined["status"], declined["reason"]) == (
        "declined", "Pelatih kami sedang penuh bulan ini")


def test_accepting_needs_the_csrf_token(system, people, portal: Portal) -> None:
    partner = people.partner_admin()
    proposal = approved_proposal(system, people, partner)
    portal.sign_in(partner)
    assert portal.client.post(f"/usulan/{proposal['id']}/terima").status_code == 400
    assert api_json(system.matching, "GET", f"/api/v1/proposals/{proposal['id']}",
                    partner.headers)["status"] == "approved"


def test_another_partners_proposal_is_not_found(system, people, portal: Portal) -> None:
    proposal = approved_proposal(system, people, people.partner_admin())
    portal.sign_in(people.partner_admin())
    assert portal.get(f"/usulan/{proposal['id']}").status_code == 404
    assert "Belum ada usulan." in text(portal.get("/usulan"))


def test_matching_down_gives_the_friendly_page(half_portal, people) -> None:
    portal = Portal(half_portal.test_client())
    portal.sign_in(people.partner_admin())
    for path in ("/usulan", "/penyaluran"):
        page = portal.get(path)
        assert page.status_code == 503, path
        assert "Tidak ada yang hilang." in text(page)
