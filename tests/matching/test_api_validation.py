"""Bad input on every matching endpoint: a clear problem+json answer naming the field, and
nothing stored. Also: the needs the Sekoper Cinta study names can be expressed; If-Match on
updates; Idempotency-Key on creates."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.matching.models import Need, Programme, Proposal
from services.matching.models import db as matching_db
from shared.clock import today_wib
from shared.errors import PROBLEM_MIME
from tests.matching.conftest import MUSTIKASARI, World
from tests.partners.conftest import bearer

TODAY = today_wib()
PADURENAN = "32.75.11.1001"  # another kelurahan of Kecamatan Mustikajaya
UNKNOWN_REGION = "32.75.99.9999"


def day(offset: int) -> str:
    return str(TODAY + timedelta(days=offset))


def fingerprint() -> dict[str, str]:
    """A digest of every row of every matching table: equal means nothing was stored."""
    with matching_db.engine.connect() as connection:
        return {table.name: connection.scalar(sa.text(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f'FROM "{table.name}" t')) for table in matching_db.metadata.sorted_tables}


def count(model: Any) -> int:
    with matching_db.session_factory() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def assert_problem(response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM_MIME
    body = response.json
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert body.get("detail")
    if field is not None:
        assert field in body["errors"], body
        assert all(isinstance(m, str) and m for m in body["errors"][field])
    return body


@pytest.fixture
def world(make, mclient, clean_matching) -> World:
    """The conftest world without the Celery worker: nothing here runs a match."""
    return World(make, mclient)


@pytest.fixture
def programme(world: World) -> dict[str, Any]:
    return world.programme()


def insert_proposal(need_id: str, status: str = "proposed") -> str:
    """A proposal as a run would have written it (no partners call is made here)."""
    with matching_db.session_factory() as session:
        from services.matching.models import MatchRun

        run = MatchRun(status="succeeded", scope={}, weights={}, phases={}, stats={})
        session.add(run)
        session.flush()
        proposal = Proposal(
            run_id=run.id, need_id=uuid.UUID(need_id), offer_id=uuid.uuid4(),
            organisation_id=uuid.uuid4(), organisation_name="PT Uji (fiktif)",
            organisation_kind="company", offer_title="Pelatih", quantity=2, unit="sessions",
            score=0.5, explanation={}, status=status)
        session.add(proposal)
        session.commit()
        return str(proposal.id)


# --- programmes ----------------------------------------------------------------------------------

def programme_body(**changes: Any) -> dict[str, Any]:
    body = {"name": "Sekoper Cinta Kelurahan Mustikasari 2027", "region": MUSTIKASARI,
            "period_start": day(0), "period_end": day(300), "cohort_size": 100}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.mark.parametrize("changes, field", [
    ({"period_start": day(10), "period_end": day(9)}, "period_end"),
    ({"cohort_size": 0}, "cohort_size"),
    ({"cohort_size": 12.5}, "cohort_size"),
    ({"region": UNKNOWN_REGION}, "region"),
    ({"region": "Bekasi"}, "region"),
    ({"colour": "ungu"}, "colour"),
    ({"name": ...}, "name"),
    ({"period_start": "31-12-2027"}, "period_start"),
], ids=["period-end-before-start", "cohort-0", "cohort-float", "unknown-region",
        "region-not-a-code", "unknown-field", "missing-name", "bad-date"])
def test_a_bad_programme_is_refused_naming_the_field(world, changes, field):
    before = fingerprint()
    response = world.client.post("/api/v1/programmes", json=programme_body(**changes),
                                 headers=world.officer_h)
    assert_problem(response, 422, field)
    assert fingerprint() == before


@pytest.mark.parametrize("changes, field", [
    ({"period_end": day(-1)}, "period_end"),
    ({"cohort_size": 0}, "cohort_size"),
    ({"region": UNKNOWN_REGION}, "region"),
    ({"id": str(uuid.uuid4())}, "id"),
])
def test_a_bad_programme_update_is_refused_naming_the_field(world, programme, changes, field):
    before = fingerprint()
    response = world.client.patch(f"/api/v1/programmes/{programme['id']}", json=changes,
                                  headers={**world.officer_h, "If-Match": "*"})
    assert_problem(response, 422, field)
    assert fingerprint() == before


# --- needs ---------------------------------------------------------------------------------------

def need_body(programme: str, **changes: Any) -> dict[str, Any]:
    body = {"programme_id": programme, "kind": "trainer", "title": "Pelatih pemasaran digital",
            "topics": ["pemasaran_digital"], "quantity": 4, "unit": "sessions",
            "window_start": day(0), "window_end": day(60), "region": MUSTIKASARI, "priority": 4}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


NEED_CASES = [
    ("topic-not-in-vocabulary", {"topics": ["merajut"]}, "topics"),
    ("unit-wrong-for-kind", {"unit": "rupiah"}, "unit"),
    ("funding-in-sessions", {"kind": "funding", "topics": ["insentif_fasilitator"]}, "unit"),
    ("facility-online", {"kind": "facility", "unit": "units", "topics": ["sarana_prasarana"],
                         "accepted_modes": ["online"]}, "accepted_modes"),
    ("facility-any-mode", {"kind": "facility", "unit": "units", "topics": ["sarana_prasarana"],
                           "accepted_modes": ["onsite", "hybrid"]}, "accepted_modes"),
    ("quantity-0", {"quantity": 0}, "quantity"),
    ("quantity-negative", {"quantity": -3}, "quantity"),
    ("quantity-float", {"quantity": 2.5}, "quantity"),
    ("quantity-string", {"quantity": "4"}, "quantity"),
    ("quantity-bool", {"quantity": True}, "quantity"),
    ("sessions-too-many", {"quantity": 100_001}, "quantity"),
    ("rupiah-too-many", {"kind": "funding", "unit": "rupiah", "topics": ["insentif_fasilitator"],
                         "quantity": 100_000_000_001}, "quantity"),
    ("unknown-region", {"region": UNKNOWN_REGION}, "region"),
    ("unknown-programme", {"programme_id": "00000000-0000-4000-8000-000000000000"},
     "programme_id"),
    ("programme-not-a-uuid", {"programme_id": "mustikasari"}, "programme_id"),
    ("empty-topics", {"topics": []}, "topics"),
    ("duplicate-topics", {"topics": ["kewirausahaan", "kewirausahaan"]}, "topics"),
    ("topics-not-a-list", {"topics": "kewirausahaan"}, "topics"),
    ("priority-6", {"priority": 6}, "priority"),
    ("priority-0", {"priority": 0}, "priority"),
    ("bad-mode", {"accepted_modes": ["teleport"]}, "accepted_modes.0"),
    ("no-modes", {"accepted_modes": []}, "accepted_modes"),
    ("window-end-before-start", {"window_start": day(30), "window_end": day(29)}, "window_end"),
    ("bad-kind", {"kind": "volunteer"}, "kind"),
    ("missing-title", {"title": ...}, "title"),
    ("title-blank", {"title": "   "}, "title"),
    ("excluded-not-uuid", {"excluded_organisations": ["PT Lain"]}, "excluded_organisations.0"),
    ("unknown-field", {"budget_code": "APBD-1"}, "budget_code"),
    ("nul-in-title", {"title": "Pelatih\x00"}, "title"),
]


@pytest.mark.parametrize("changes, field", [(c, f) for _, c, f in NEED_CASES],
                         ids=[name for name, _, _ in NEED_CASES])
def test_a_bad_need_is_refused_naming_the_field(world, programme, changes, field):
    before = fingerprint()
    response = world.client.post("/api/v1/needs", json=need_body(programme["id"], **changes),
                                 headers=world.officer_h)
    assert_problem(response, 422, field)
    assert fingerprint() == before


def test_a_need_outside_its_programmes_region_is_refused(world, programme):
    before = fingerprint()
    response = world.client.post("/api/v1/needs", json=need_body(
        programme["id"], region=PADURENAN), headers=world.officer_h)
    body = assert_problem(response, 422, "region")
    assert MUSTIKASARI in body["errors"]["region"][0]
    assert fingerprint() == before


NEED_UPDATE_CASES = [
    ("unit-wrong-for-kind", {"unit": "rupiah"}, "unit"),
    ("quantity-0", {"quantity": 0}, "quantity"),
    ("sessions-too-many", {"quantity": 100_001}, "quantity"),
    ("window-end-before-stored-start", {"window_end": day(-1)}, "window_end"),
    ("priority-6", {"priority": 6}, "priority"),
    ("unknown-region", {"region": UNKNOWN_REGION}, "region"),
    ("region-outside-programme", {"region": PADURENAN}, "region"),
    ("kind-never-changes", {"kind": "funding"}, "kind"),
    ("programme-never-changes", {"programme_id": str(uuid.uuid4())}, "programme_id"),
    ("duplicate-topics", {"topics": ["parenting", "parenting"]}, "topics"),
]


@pytest.mark.parametrize("changes, field", [(c, f) for _, c, f in NEED_UPDATE_CASES],
                         ids=[name for name, _, _ in NEED_UPDATE_CASES])
def test_a_bad_need_update_is_refused_naming_the_field(world, programme, changes, field):
    need = world.need(programme["id"])
    before = fingerprint()
    response = world.client.patch(f"/api/v1/needs/{need['id']}", json=changes,
                                  headers={**world.officer_h, "If-Match": "*"})
    assert_problem(response, 422, field)
    assert fingerprint() == before


def test_a_facility_need_cannot_be_edited_into_an_online_one(world, programme):
    need = world.need(programme["id"], kind="facility", unit="units", quantity=2,
                      title="Ruang kelas dan proyektor", topics=["sarana_prasarana"],
                      accepted_modes=["onsite"])
    before = fingerprint()
    response = world.client.patch(f"/api/v1/needs/{need['id']}",
                                  json={"accepted_modes": ["onsite", "online"]},
                                  headers={**world.coordinator_h, "If-Match": "*"})
    assert_problem(response, 422, "accepted_modes")
    assert fingerprint() == before


@pytest.mark.parametrize("query, field", [
    ({"kind": "volunteer"}, "kind"), ({"status": "done"}, "status"),
    ({"region": UNKNOWN_REGION}, "region"), ({"programme_id": "x"}, "programme_id"),
    ({"topic": "t" * 41}, "topic"),
])
def test_a_bad_need_search_is_refused_naming_the_parameter(world, query, field):
    response = world.client.get("/api/v1/needs", query_string=query, headers=world.officer_h)
    assert_problem(response, 422, field)


# --- the needs of the study ---------------------------------------------------------------------

STUDY_NEEDS = [
    ("trainer", "kewirausahaan", "sessions", 6),
    ("module", "kewirausahaan", "seats", 100),
    ("trainer", "manajemen_keuangan", "sessions", 4),
    ("module", "manajemen_keuangan", "units", 1),
    ("trainer", "pemasaran_digital", "sessions", 8),
    ("module", "pemasaran_digital", "sessions", 5),
    ("funding", "insentif_fasilitator", "rupiah", 24_000_000),
    ("funding", "sarana_prasarana", "rupiah", 15_000_000),
    ("trainer", "pelatihan_fasilitator", "sessions", 3),
]


def test_every_need_the_study_names_can_be_posted_and_read_back(world, programme):
    created = []
    for kind, topic, unit, quantity in STUDY_NEEDS:
        body = need_body(programme["id"], kind=kind, topics=[topic], unit=unit,
                         quantity=quantity, title=f"Kebutuhan {kind} {topic}",
                         description="Untuk kelas Sekoper Cinta Mustikasari")
        response = world.client.post("/api/v1/needs", json=body, headers=world.coordinator_h)
        assert response.status_code == 201, (kind, topic, response.json)
        created.append((body, response.json["id"]))
    for body, need_id in created:
        response = world.client.get(f"/api/v1/needs/{need_id}", headers=world.coordinator_h)
        assert response.status_code == 200
        need = response.json
        for name in ("programme_id", "kind", "title", "description", "topics", "quantity",
                     "unit", "window_start", "window_end", "region", "priority"):
            assert need[name] == body[name], name
        assert (need["status"], need["covered"], need["remaining"]) == (
            "open", 0, body["quantity"])
        assert need["accepted_modes"] == ["onsite", "online", "hybrid"]
        assert need["single_offer"] is False and need["excluded_organisations"] == []
        assert need["programme_name"] == programme["name"]
    listed = world.client.get("/api/v1/needs", query_string={"topic": "kewirausahaan"},
                              headers=world.officer_h).json
    assert sorted(n["kind"] for n in listed) == ["module", "trainer"]
    funding = world.client.get("/api/v1/needs", query_string={"kind": "funding"},
                               headers=world.officer_h).json
    assert sorted(n["topics"][0] for n in funding) == ["insentif_fasilitator", "sarana_prasarana"]


def test_a_need_keeps_single_offer_and_excluded_organisations(world, programme):
    excluded = str(uuid.uuid4())
    need = world.need(programme["id"], kind="facility", unit="units", quantity=1,
                      title="Ruang kelas", topics=["sarana_prasarana"], accepted_modes=["onsite"],
                      single_offer=True, excluded_organisations=[excluded])
    read = world.client.get(f"/api/v1/needs/{need['id']}", headers=world.officer_h).json
    assert read["single_offer"] is True and read["excluded_organisations"] == [excluded]
    assert read["accepted_modes"] == ["onsite"]


# --- match runs, decisions, delivery, reports ---------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"weights": {"charm": 1.0}}, "weights"),
    ({"weights": {"proximity": -1}}, "weights.proximity.value"),
    ({"weights": {"proximity": 11}}, "weights.proximity.value"),
    ({"weights": {"proximity": "high"}}, "weights.proximity.value"),
    ({"weights": {name: 0 for name in ("topic_fit", "text_fit", "proximity", "ring1",
                                       "window_fit", "quantity_fit", "track_record")}},
     "weights"),
    ({"programme_id": "00000000-0000-4000-8000-000000000000"}, "programme_id"),
    ({"kinds": ["volunteer"]}, "kinds.0"),
    ({"kinds": ["trainer", "trainer"]}, "kinds"),
    ({"region": UNKNOWN_REGION}, "region"),
    ({"scope": "all"}, "scope"),
], ids=["unknown-weight", "negative-weight", "weight-too-large", "weight-not-a-number",
        "all-weights-zero", "unknown-programme", "bad-kind", "duplicate-kind", "unknown-region",
        "unknown-field"])
def test_a_bad_match_run_request_is_refused_naming_the_field(world, programme, body, field):
    world.need(programme["id"])
    before = fingerprint()
    response = world.client.post("/api/v1/match-runs", json=body, headers=world.officer_h)
    assert_problem(response, 422, field)
    assert fingerprint() == before


@pytest.fixture
def proposal_id(world, programme) -> str:
    need = world.need(programme["id"])
    return insert_proposal(need["id"])


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/proposals/approve", {"proposal_ids": []}, "proposal_ids"),
    ("/api/v1/proposals/approve", {}, "proposal_ids"),
    ("/api/v1/proposals/approve", {"proposal_ids": ["nope"]}, "proposal_ids.0"),
    ("/api/v1/proposals/approve", {"proposal_ids": "{id}"}, "proposal_ids"),
    ("/api/v1/proposals/approve", {"proposal_ids": ["{id}", "{id}"]}, "proposal_ids"),
    ("/api/v1/proposals/{id}/reject", {}, "reason"),
    ("/api/v1/proposals/{id}/reject", {"reason": "   "}, "reason"),
    ("/api/v1/proposals/{id}/reject", {"reason": "no"}, "reason"),
    ("/api/v1/proposals/{id}/decline", {}, "reason"),
    ("/api/v1/proposals/{id}/delivery", {"delivered_quantity": 2, "rating": 0}, "rating"),
    ("/api/v1/proposals/{id}/delivery", {"delivered_quantity": 2, "rating": 6}, "rating"),
    ("/api/v1/proposals/{id}/delivery", {"delivered_quantity": 2, "rating": 4.5}, "rating"),
    ("/api/v1/proposals/{id}/delivery", {"delivered_quantity": -1, "rating": 4},
     "delivered_quantity"),
    ("/api/v1/proposals/{id}/delivery", {"rating": 4}, "delivered_quantity"),
    ("/api/v1/proposals/{id}/delivery", {"delivered_quantity": 2, "rating": 4,
                                         "confirmed_by": "saya"}, "confirmed_by"),
], ids=["approve-empty", "approve-missing", "approve-not-uuid", "approve-not-a-list",
        "approve-duplicates", "reject-no-reason", "reject-blank-reason", "reject-short-reason",
        "decline-no-reason", "rating-0", "rating-6", "rating-float", "quantity-negative",
        "quantity-missing", "read-only-field"])
def test_a_bad_decision_is_refused_naming_the_field(world, proposal_id, path, body, field):
    body = json.loads(json.dumps(body).replace("{id}", proposal_id))
    headers = world.company_h if path.endswith("decline") else (
        world.coordinator_h if path.endswith("delivery") else world.officer_h)
    before = fingerprint()
    response = world.client.post(path.replace("{id}", proposal_id), json=body, headers=headers)
    assert_problem(response, 422, field)
    assert fingerprint() == before
    with matching_db.session_factory() as session:
        assert session.get(Proposal, uuid.UUID(proposal_id)).status == "proposed"


@pytest.mark.parametrize("query, fields", [
    ({}, {"period_start", "period_end"}),
    ({"period_start": day(0)}, {"period_end"}),
    ({"period_start": day(10), "period_end": day(9)}, {"period_end"}),
    ({"period_start": day(0), "period_end": day(9), "format": "xml"}, {"format"}),
    ({"period_start": day(0), "period_end": day(9), "region": UNKNOWN_REGION}, {"region"}),
    ({"period_start": "kemarin", "period_end": day(9)}, {"period_start"}),
], ids=["no-period", "no-end", "end-before-start", "format-xml", "unknown-region", "bad-date"])
def test_a_bad_report_request_is_refused_naming_the_parameter(world, query, fields):
    response = world.client.get("/api/v1/reports/collaboration", query_string=query,
                                headers=world.officer_h)
    body = assert_problem(response, 422)
    assert set(body["errors"]) == fields


# --- unreadable, oversized and unknown -----------------------------------------------------------

POST_BODIES = ["/api/v1/programmes", "/api/v1/needs", "/api/v1/match-runs",
               "/api/v1/proposals/approve"]


@pytest.mark.parametrize("path", POST_BODIES)
def test_malformed_json_is_a_400(world, path):
    before = fingerprint()
    response = world.client.post(path, data='{"name": "Sekoper', headers=world.officer_h,
                                 content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]
    assert fingerprint() == before


@pytest.mark.parametrize("path", POST_BODIES)
def test_an_oversized_body_is_a_413(world, path):
    before = fingerprint()
    response = world.client.post(path, json={"description": "x" * (1024 * 1024 + 1)},
                                 headers=world.officer_h)
    assert_problem(response, 413)
    assert fingerprint() == before


def test_a_json_array_instead_of_an_object_is_refused(world, programme):
    before = fingerprint()
    response = world.client.post("/api/v1/needs", json=[need_body(programme["id"])],
                                 headers=world.officer_h)
    assert_problem(response, 422, "_schema")
    assert fingerprint() == before


def test_unknown_ids_are_404_problems(world, programme):
    missing = str(uuid.uuid4())
    need = world.need(programme["id"])
    reason = {"reason": "Tidak sesuai jadwal kelas"}
    calls = [
        ("GET", f"/api/v1/programmes/{missing}", None, world.officer_h),
        ("PATCH", f"/api/v1/programmes/{missing}", {"cohort_size": 90}, world.officer_h),
        ("GET", f"/api/v1/needs/{missing}", None, world.officer_h),
        ("PATCH", f"/api/v1/needs/{missing}", {"priority": 5}, world.officer_h),
        ("POST", f"/api/v1/needs/{missing}/cancel", None, world.officer_h),
        ("GET", f"/api/v1/match-runs/{missing}", None, world.officer_h),
        ("POST", f"/api/v1/match-runs/{missing}/cancel", None, world.officer_h),
        ("GET", f"/api/v1/proposals/{missing}", None, world.officer_h),
        ("POST", f"/api/v1/proposals/{missing}/approve", None, world.officer_h),
        ("POST", f"/api/v1/proposals/{missing}/reject", reason, world.officer_h),
        ("POST", f"/api/v1/proposals/{missing}/accept", None, world.company_h),
        ("POST", f"/api/v1/proposals/{missing}/decline", reason, world.company_h),
        ("POST", f"/api/v1/proposals/{missing}/delivery", {"delivered_quantity": 1,
                                                           "rating": 4}, world.coordinator_h),
        ("GET", f"/api/v1/needs/{need['id'][:-1]}", None, world.officer_h),  # not a UUID
    ]
    before = fingerprint()
    for method, path, body, headers in calls:
        response = world.client.open(path, method=method, json=body,
                                     headers={**headers, "If-Match": "*"})
        assert_problem(response, 404)
    assert fingerprint() == before


def test_bulk_approval_of_unknown_ids_answers_one_result_each_and_changes_nothing(world):
    missing = [str(uuid.uuid4()), str(uuid.uuid4())]
    before = fingerprint()
    response = world.client.post("/api/v1/proposals/approve", json={"proposal_ids": missing},
                                 headers=world.officer_h)
    assert response.status_code == 200
    assert [(r["proposal_id"], r["status"]) for r in response.json] == [
        (missing[0], "unchanged"), (missing[1], "unchanged")]
    assert all("No proposal" in r["detail"] for r in response.json)
    assert fingerprint() == before


# --- If-Match and Idempotency-Key ----------------------------------------------------------------

def test_a_programme_update_needs_the_current_etag(world, programme):
    path = f"/api/v1/programmes/{programme['id']}"
    read = world.client.get(path, headers=world.officer_h)
    etag = read.headers["ETag"]
    before = fingerprint()
    response = world.client.patch(path, json={"cohort_size": 90}, headers=world.officer_h)
    assert_problem(response, 428)
    assert fingerprint() == before

    first = world.client.patch(path, json={"cohort_size": 90},
                               headers={**world.officer_h, "If-Match": etag})
    assert first.status_code == 200 and first.json["cohort_size"] == 90
    assert first.headers["ETag"] != etag
    before = fingerprint()
    stale = world.client.patch(path, json={"cohort_size": 120},
                               headers={**world.officer_h, "If-Match": etag})
    body = assert_problem(stale, 409)
    assert body["type"].endswith("/stale-version")
    assert fingerprint() == before
    assert world.client.get(path, headers=world.officer_h).json["cohort_size"] == 90


def test_a_need_update_needs_the_current_etag(world, programme):
    need = world.need(programme["id"])
    path = f"/api/v1/needs/{need['id']}"
    etag = world.client.get(path, headers=world.coordinator_h).headers["ETag"]
    before = fingerprint()
    assert_problem(world.client.patch(path, json={"quantity": 6}, headers=world.coordinator_h),
                   428)
    assert fingerprint() == before

    first = world.client.patch(path, json={"quantity": 6},
                               headers={**world.coordinator_h, "If-Match": etag})
    assert first.status_code == 200, first.json
    assert (first.json["quantity"], first.json["remaining"]) == (6, 6)
    before = fingerprint()
    stale = world.client.patch(path, json={"quantity": 2},
                               headers={**world.officer_h, "If-Match": etag})
    body = assert_problem(stale, 409)
    assert body["type"].endswith("/stale-version")
    assert fingerprint() == before
    assert world.client.get(path, headers=world.officer_h).json["quantity"] == 6


def test_a_retried_need_post_with_the_same_idempotency_key_creates_one_need(world, programme):
    body = need_body(programme["id"])
    headers = {**world.coordinator_h, "Idempotency-Key": "need-mustikasari-1"}
    first = world.client.post("/api/v1/needs", json=body, headers=headers)
    assert first.status_code == 201
    again = world.client.post("/api/v1/needs", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(Need) == 1

    before = fingerprint()
    other = world.client.post("/api/v1/needs", json={**body, "quantity": 5}, headers=headers)
    body_ = assert_problem(other, 422)
    assert body_["type"].endswith("/idempotency-key-reused")
    assert fingerprint() == before
    # The key belongs to the caller: another person using the same key makes her own need.
    mine = world.client.post("/api/v1/needs", json=body,
                             headers={**world.officer_h, "Idempotency-Key": "need-mustikasari-1"})
    assert mine.status_code == 201 and mine.json["id"] != first.json["id"]
    assert count(Need) == 2


def test_a_retried_programme_post_with_the_same_idempotency_key_creates_one(world):
    headers = {**world.officer_h, "Idempotency-Key": "programme-2027"}
    first = world.client.post("/api/v1/programmes", json=programme_body(), headers=headers)
    again = world.client.post("/api/v1/programmes", json=programme_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert count(Programme) == 1


def test_a_refused_need_post_does_not_burn_its_idempotency_key(world, programme):
    headers = {**world.coordinator_h, "Idempotency-Key": "need-retry"}
    bad = world.client.post("/api/v1/needs", json=need_body(programme["id"], quantity=0),
                            headers=headers)
    assert_problem(bad, 422, "quantity")
    assert count(Need) == 0
    # Only a success is kept: the corrected request may reuse the key...
    fixed = world.client.post("/api/v1/needs", json=need_body(programme["id"]), headers=headers)
    assert fixed.status_code == 201, fixed.json
    # ...and from then on the key replays that success.
    again = world.client.post("/api/v1/needs", json=need_body(programme["id"]), headers=headers)
    assert again.json == fixed.json
    assert count(Need) == 1


def test_an_unsigned_request_is_refused_before_validation(world):
    response = world.client.post("/api/v1/needs", json={"kind": "volunteer"})
    assert_problem(response, 401)
    response = world.client.post("/api/v1/needs", json={"kind": "volunteer"},
                                 headers=bearer("not-a-token"))
    assert_problem(response, 401)
