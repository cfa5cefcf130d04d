"""DP3A officers' pages: what an officer sees and does, and what the APIs then hold. Each
page is allowed for DP3A and refused to everyone else."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from services.matching.models import MatchRun, Proposal
from services.matching.models import db as matching_db
from services.partners.models import AuditEntry, Organisation
from tests.partners.conftest import bearer
from tests.portal.conftest import Portal, partners_db_rows, text
from tests.portal.officers import (
    api,
    finished_run_page,
    new_need,
    new_programme,
    offer,
    proposal_ids,
    signed_in,
    start_run,
)

BEKASIJAYA = "32.75.01.1001"
MARGAHAYU = "32.75.01.1002"
DURENJAYA = "32.75.01.1003"

DP3A_PAGES = ("/dp3a/verifikasi", "/dp3a/program", "/dp3a/program/baru", "/dp3a/pencocokan",
              "/dp3a/audit", "/dp3a/audit?source=matching")


@pytest.fixture
def officer(people):
    return people.staff("dp3a_officer")


@pytest.fixture
def desk(system, officer) -> Portal:
    """The officer, signed in."""
    return signed_in(system, officer)


def organisation_status(organisation_id) -> tuple[str, str | None]:
    [found] = partners_db_rows(sa.select(Organisation).where(
        Organisation.id == uuid.UUID(str(organisation_id))))
    return found.status, found.status_reason


def test_each_page_is_for_dp3a_and_refused_to_others(system, people, desk):
    for path in DP3A_PAGES:
        page = desk.get(path)
        assert page.status_code == 200, (path, text(page))
    for person in (people.staff("coordinator"), people.partner_admin()):
        other = signed_in(system, person)
        for path in DP3A_PAGES:
            page = other.get(path)
            assert page.status_code == 403, path
            assert "Peran Anda tidak diizinkan" in text(page)
    stranger = Portal(system.portal.test_client())
    page = stranger.get("/dp3a/verifikasi")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/masuk?next=/dp3a/verifikasi")


def test_the_menu_shows_dp3a_entries_to_officers_only(system, people, desk):
    menu = text(desk.get("/"))
    for entry in ("Verifikasi", "Program", "Pencocokan", "Dasbor", "Log audit"):
        assert entry in menu
    coordinator = text(signed_in(system, people.staff("coordinator")).get("/"))
    assert "Verifikasi" not in coordinator and "Kebutuhan kami" in coordinator


def test_the_verification_queue_verify_and_the_details(system, desk, officer):
    organisation, _ = system.make.organisation(status="pending", name="PT Antre Verifikasi")
    queue = desk.get("/dp3a/verifikasi")
    assert "PT Antre Verifikasi" in text(queue)
    assert "Menunggu verifikasi" in text(queue)
    details = desk.get(f"/dp3a/verifikasi/{organisation.id}")
    assert organisation.nib in text(details) and organisation.npwp in text(details)
    assert "Verifikasi" in text(details) and "Tolak" in text(details)

    page = desk.submit(f"/dp3a/verifikasi/{organisation.id}", {},
                       action=f"/dp3a/verifikasi/{organisation.id}/verify")
    assert page.status_code == 200
    assert "Organisasi sudah diverifikasi." in text(page)
    assert "PT Antre Verifikasi" not in text(page)  # back on the queue, no longer in it
    assert organisation_status(organisation.id)[0] == "verified"
    [entry] = partners_db_rows(sa.select(AuditEntry).where(
        AuditEntry.object_id == str(organisation.id), AuditEntry.actor_id == officer.id))
    assert entry.after["status"] == "verified"
    assert "PT Antre Verifikasi" in text(desk.get("/dp3a/verifikasi?status=verified"))


def test_a_rejection_needs_a_reason_the_apis_error_shows_by_the_field(system, desk):
    organisation, _ = system.make.organisation(status="pending", name="PT Tanpa Alasan")
    page_path = f"/dp3a/verifikasi/{organisation.id}"
    action = f"/dp3a/verifikasi/{organisation.id}/reject"
    page = desk.submit(page_path, {"reason": "Kur"}, action=action)
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert 'id="reason-error"' in body and 'aria-invalid="true"' in body
    assert "Mohon periksa formulir" in text(page)
    assert "Kur</textarea>" in body  # what was typed is kept
    assert organisation_status(organisation.id) == ("pending", None)

    page = desk.submit(page_path, {"reason": ""}, action=action)
    assert page.status_code == 422 and 'id="reason-error"' in page.get_data(as_text=True)

    page = desk.submit(page_path, {"reason": "Dokumen NIB tidak cocok"}, action=action)
    assert "Organisasi ditolak." in text(page)
    assert organisation_status(organisation.id) == ("rejected", "Dokumen NIB tidak cocok")


def test_suspend_with_a_reason_and_verify_again(system, desk):
    organisation, _ = system.make.organisation(name="PT Ditangguhkan")
    page_path = f"/dp3a/verifikasi/{organisation.id}"
    page = desk.submit(page_path, {"reason": "Laporan penyalahgunaan"},
                       action=f"{page_path}/suspend")
    assert "Organisasi ditangguhkan." in text(page)
    assert organisation_status(organisation.id) == ("suspended", "Laporan penyalahgunaan")
    page = desk.submit(page_path, {}, action=f"{page_path}/reinstate")
    assert "Organisasi terverifikasi lagi." in text(page)
    assert organisation_status(organisation.id)[0] == "verified"


def test_a_need_the_api_refuses_keeps_what_was_typed(system, desk):
    programme = new_programme(desk, DURENJAYA)
    page = desk.submit(f"/dp3a/program/{programme}/kebutuhan/baru", {
        "programme_id": programme, "kind": "trainer", "title": "Pelatih parenting",
        "topics": ["parenting"], "quantity": "banyak", "unit": "sessions",
        "window_start": "2027-01-01", "window_end": "2026-01-01", "region": DURENJAYA,
        "priority": "3", "accepted_modes": ["onsite"]})
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert 'id="quantity-error"' in body
    assert 'value="banyak"' in body and 'value="Pelatih parenting"' in body
    assert 'value="2026-01-01"' in body
    page = desk.submit(f"/dp3a/program/{programme}/kebutuhan/baru", {
        "programme_id": programme, "kind": "trainer", "title": "Pelatih parenting",
        "topics": ["parenting"], "quantity": "3", "unit": "sessions",
        "window_start": "2027-01-01", "window_end": "2026-01-01", "region": DURENJAYA,
        "priority": "3", "accepted_modes": ["onsite"]})
    assert page.status_code == 422
    assert 'id="window_end-error"' in page.get_data(as_text=True)
    assert api(system, "matching", "GET", "/api/v1/needs", _officer_headers(system),
               query_string={"programme_id": programme}) == []


def _officer_headers(system) -> dict[str, str]:
    return bearer(system.make.token(system.make.user("dp3a_officer")))


def test_a_run_from_the_page_ends_with_proposals_approve_one_and_many(system, desk):
    """Programme and needs posted through the pages, a run started and watched until done,
    one proposal reviewed against its alternative and approved, two approved at once."""
    _, company = system.make.organisation(name="PT Pelatih Bekasijaya")
    _, university = system.make.organisation(kind="university", name="Universitas Bekasijaya")
    offer(system, company, BEKASIJAYA, title="Pelatih pemasaran digital A", capacity=10)
    offer(system, university, BEKASIJAYA, title="Dosen pemasaran digital B", capacity=10)
    offer(system, company, BEKASIJAYA, kind="module", unit="seats", capacity=100,
          title="Modul kewirausahaan", topics=["kewirausahaan"])
    offer(system, company, BEKASIJAYA, kind="funding", unit="rupiah", capacity=30_000_000,
          title="Dana insentif fasilitator", topics=["insentif_fasilitator"])

    programme = new_programme(desk, BEKASIJAYA, "Sekoper Cinta Bekasijaya")
    assert "Sekoper Cinta Bekasijaya" in text(desk.get("/dp3a/program"))
    new_need(desk, programme, BEKASIJAYA, title="Pelatih pemasaran digital")
    new_need(desk, programme, BEKASIJAYA, kind="module", unit="seats", quantity="100",
             title="Modul kewirausahaan", topics=["kewirausahaan"])
    new_need(desk, programme, BEKASIJAYA, kind="funding", unit="rupiah",
             quantity="Rp 20.000.000", title="Insentif fasilitator",
             topics=["insentif_fasilitator"])
    listing = text(desk.get(f"/dp3a/program/{programme}"))
    assert "Pelatih pemasaran digital" in listing and "Rp 20.000.000" in listing

    run_id = start_run(desk, programme)
    page = finished_run_page(desk, run_id)
    assert "Berhasil" in text(page)
    body = page.get_data(as_text=True)
    assert '<progress id="run-progress" max="100" value="100">' in body
    ids = proposal_ids(page)
    assert len(ids) == 3
    for title in ("Pelatih pemasaran digital", "Modul kewirausahaan", "Insentif fasilitator"):
        assert title in text(page)

    trainer = next(p for p in _proposals(run_id) if p.unit == "sessions")
    review = desk.get(f"/dp3a/usulan/{trainer.id}")
    review_text = text(review)
    assert "Diusulkan: " + trainer.offer_title in review_text
    other = ({"Pelatih pemasaran digital A", "Dosen pemasaran digital B"}
             - {trainer.offer_title}).pop()
    assert "Alternatif: " + other in review_text  # side by side with the proposal
    assert "Kecocokan topik" in review_text and "Kedekatan" in review_text

    page = desk.submit(f"/dp3a/usulan/{trainer.id}", {},
                       action=f"/dp3a/usulan/{trainer.id}/setujui")
    assert "Usulan disetujui; kapasitas sudah dipesan." in text(page)
    assert _status(trainer.id) == "approved"

    rest = [i for i in ids if i != str(trainer.id)]
    page = desk.submit(f"/dp3a/pencocokan/{run_id}", {"proposal_ids": rest},
                       action="/dp3a/usulan/setujui")
    assert "2 dari 2 usulan disetujui." in text(page)
    assert {_status(i) for i in rest} == {"approved"}
    assert proposal_ids(page) == []  # nothing left to tick
    assert text(page).count("Disetujui") >= 3


def test_reject_a_proposal_with_a_reason(system, desk):
    _, company = system.make.organisation(name="PT Pelatih Margahayu")
    offer(system, company, MARGAHAYU, title="Pelatih parenting Margahayu",
          topics=["parenting"])
    programme = new_programme(desk, MARGAHAYU)
    new_need(desk, programme, MARGAHAYU, title="Pelatih parenting", topics=["parenting"])
    run_id = start_run(desk, programme)
    [proposal_id] = proposal_ids(finished_run_page(desk, run_id))

    page = desk.submit(f"/dp3a/usulan/{proposal_id}", {"reason": "no"},
                       action=f"/dp3a/usulan/{proposal_id}/tolak")
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert 'id="reason-error"' in body and "no</textarea>" in body
    assert _status(proposal_id) == "proposed"

    page = desk.submit(f"/dp3a/usulan/{proposal_id}", {"reason": "Jadwal bentrok dengan kelas"},
                       action=f"/dp3a/usulan/{proposal_id}/tolak")
    assert "Usulan ditolak." in text(page)
    assert _status(proposal_id) == "rejected"
    with matching_db.session_factory() as session:
        assert session.get(Proposal, uuid.UUID(proposal_id)).reason == (
            "Jadwal bentrok dengan kelas")


def test_the_run_page_shows_progress_and_follows_it_while_running(desk):
    with matching_db.session_factory() as session:
        run = MatchRun(status="running", scope={}, weights={}, phase="scoring", progress=0.4,
                       phases={"fetching_offers": 1.0, "scoring": 0.4}, stats={})
        session.add(run)
        session.commit()
        run_id = run.id
    page = desk.get(f"/dp3a/pencocokan/{run_id}")
    body = page.get_data(as_text=True)
    assert '<progress id="run-progress" max="100" value="40">' in body
    assert "Berjalan" in text(page) and "Menilai" in text(page) and "40%" in text(page)
    # The page's script follows the run through the portal; without it, a link refreshes.
    assert f'data-progress-url="/dp3a/pencocokan/{run_id}/kemajuan"' in body
    assert 'src="/static/run-progress.js"' in body and "http-equiv" not in body
    assert f'href="/dp3a/pencocokan/{run_id}"' in body
    progress = desk.get(f"/dp3a/pencocokan/{run_id}/kemajuan").get_json()
    assert progress == {"status": "running", "active": True, "percent": 40,
                        "phase_label": "Menilai", "poll_ms": 2000}
    with matching_db.session_factory() as session:
        session.execute(sa.update(MatchRun).where(MatchRun.id == run_id).values(
            status="failed", error="Uji: gagal", finished_at=sa.func.now()))
        session.commit()
    assert desk.get(f"/dp3a/pencocokan/{run_id}/kemajuan").get_json()["active"] is False
    page = desk.get(f"/dp3a/pencocokan/{run_id}")
    assert "run-progress.js" not in page.get_data(as_text=True)
    assert "Gagal" in text(page) and "Uji: gagal" in text(page)


def test_the_audit_logs_with_filters(system, desk, officer):
    organisation, _ = system.make.organisation(status="pending", name="PT Jejak Audit")
    desk.submit(f"/dp3a/verifikasi/{organisation.id}", {},
                action=f"/dp3a/verifikasi/{organisation.id}/verify")
    page = desk.get(f"/dp3a/audit?source=partners&object_id={organisation.id}")
    assert page.status_code == 200
    assert "organisation.verify" in text(page)
    assert "pending → verified" in text(page)
    assert officer.id in text(page)

    programme = new_programme(desk, DURENJAYA, "Program jejak audit")
    page = desk.get(f"/dp3a/audit?source=matching&object_type=programme&object_id={programme}")
    assert "programme.created" in text(page)
    page = desk.get(f"/dp3a/audit?source=matching&object_id={programme}&until=2000-01-01")
    assert "Tidak ada catatan log yang cocok" in text(page)
    page = desk.get("/dp3a/audit?source=partners&action=" + "x" * 81)
    assert page.status_code == 422
    assert "Ini tidak dapat dilakukan" in text(page)


def _proposals(run_id: str) -> list[Proposal]:
    with matching_db.session_factory() as session:
        return list(session.scalars(sa.select(Proposal).where(
            Proposal.run_id == uuid.UUID(run_id))))


def _status(proposal_id) -> str:
    with matching_db.session_factory() as session:
        return session.get(Proposal, uuid.UUID(str(proposal_id))).status
