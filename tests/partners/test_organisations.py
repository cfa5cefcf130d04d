"""Registering organisations, DP3A's decisions on them, and profile edits."""
from __future__ import annotations

import pytest

from services.partners.models import Organisation, User
from tests.partners.conftest import (
    MUSTIKASARI,
    PASSWORD,
    audit_entries,
    bearer,
    count_rows,
    outbox_events,
)


def registration(**overrides):
    body = {
        "kind": "company", "name": "PT Maju Bersama (fiktif)", "nib": "1234567890123",
        "npwp": "01.234.567.8-901.000", "sector": "Manufaktur", "address_region": MUSTIKASARI,
        "operating_regions": ["32.75.11", "32.75.03"], "contact_name": "Ani Lestari",
        "contact_email": "CSR@Maju.example", "contact_phone": "0812-3456-7890",
        "admin": {"name": "Ani Lestari", "email": "ani@maju.example", "password": PASSWORD},
    }
    body.update(overrides)
    return body


def test_a_company_registers_and_waits_for_verification(client, app):
    response = client.post("/api/v1/organisations", json=registration())
    assert response.status_code == 201, response.json
    organisation = response.json["organisation"]
    assert organisation["status"] == "pending"
    assert organisation["npwp"] == "0012345678901000"  # legacy 15 digits, padded
    assert organisation["contact_phone"] == "+6281234567890"
    assert organisation["contact_email"] == "csr@maju.example"
    assert response.json["admin"]["role"] == "partner_admin"
    assert "password" not in response.json["admin"]
    assert response.headers["Location"].endswith(organisation["id"])
    [entry] = audit_entries(app, action="organisation.registered")
    assert entry.object_id == organisation["id"] and entry.after["status"] == "pending"
    assert [e.payload["name"] for e in outbox_events(app, "organisation.registered")] == [
        "PT Maju Bersama (fiktif)"]


@pytest.mark.parametrize("field, value, message", [
    ("kind", "koperasi", "Must be one of"),
    ("nib", "12345", "13 digits"),
    ("nib", "12345678901ab", "13 digits"),
    ("npwp", "123", "15 or 16 digits"),
    ("address_region", "99.99.99", "Unknown region"),
    ("operating_regions", ["32.75", "32.75"], "only once"),
    ("operating_regions", ["32.75", "00.00"], "Unknown region"),
    ("contact_email", "not-an-email", "email"),
    ("contact_phone", "+1 555 0100", "+62"),
    ("name", "", "Length"),
    ("website", "ftp://x.example", "URL"),
    ("pddikti_code", "001002", "Only universities"),
])
def test_each_bad_registration_value_is_refused_and_nothing_is_stored(client, app, field, value,
                                                                       message):
    response = client.post("/api/v1/organisations", json=registration(**{field: value}))
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    errors = response.json["errors"]
    flat = " ".join(" ".join(v) for k, v in errors.items() if k.split(".")[0] == field)
    assert message.lower() in flat.lower(), errors
    assert count_rows(app, Organisation) == 0 and count_rows(app, User) == 0


def test_a_company_needs_nib_and_npwp_and_a_university_its_pddikti_code(client):
    response = client.post("/api/v1/organisations", json=registration(nib=None, npwp=None))
    assert set(response.json["errors"]) >= {"nib", "npwp"}
    response = client.post("/api/v1/organisations",
                           json=registration(kind="university", nib=None, npwp=None))
    assert "pddikti_code" in response.json["errors"]
    response = client.post("/api/v1/organisations", json=registration(
        kind="university", nib=None, npwp=None, pddikti_code="001002"))
    assert response.status_code == 201


def test_weak_passwords_and_unknown_fields_are_refused(client):
    body = registration()
    body["admin"]["password"] = "short"
    response = client.post("/api/v1/organisations", json=body)
    assert response.status_code == 422 and "admin.password" in response.json["errors"]
    response = client.post("/api/v1/organisations", json=registration(is_agency=True))
    assert response.status_code == 422 and "is_agency" in response.json["errors"]


def test_malformed_and_oversized_bodies(client):
    response = client.post("/api/v1/organisations", data="{not json",
                           content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    response = client.post("/api/v1/organisations", data="x" * (2 * 1024 * 1024),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.json["status"] == 413


def test_a_duplicate_is_refused_and_only_dp3a_learns_who_holds_it(client, make):
    first = client.post("/api/v1/organisations", json=registration())
    assert first.status_code == 201
    again = registration(npwp="9999999999999999")
    again["admin"]["email"] = "other@maju.example"
    response = client.post("/api/v1/organisations", json=again)
    assert response.status_code == 409
    assert "existing" not in response.json
    officer = make.user("dp3a_officer")
    response = client.post("/api/v1/organisations", json=again,
                           headers=bearer(make.token(officer)))
    assert response.status_code == 409
    assert response.json["existing"]["name"] == "PT Maju Bersama (fiktif)"


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(client, app):
    headers = {"Idempotency-Key": "reg-1"}
    first = client.post("/api/v1/organisations", json=registration(), headers=headers)
    second = client.post("/api/v1/organisations", json=registration(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_rows(app, Organisation) == 1
    different = client.post("/api/v1/organisations", json=registration(name="PT Lain"),
                            headers=headers)
    assert different.status_code == 422
    assert different.json["type"].endswith("idempotency-key-reused")


@pytest.mark.parametrize("action, start, target", [
    ("verify", "pending", "verified"),
    ("reject", "pending", "rejected"),
    ("suspend", "verified", "suspended"),
    ("reinstate", "suspended", "verified"),
])
def test_dp3a_decides_and_each_decision_is_audited_and_announced(client, app, make, action,
                                                                  start, target):
    organisation, _ = make.organisation(status=start)
    officer = make.user("dp3a_officer")
    response = client.post(f"/api/v1/organisations/{organisation.id}/{action}",
                           json={"reason": "Dokumen sudah diperiksa"},
                           headers=bearer(make.token(officer)))
    assert response.status_code == 200, response.json
    assert response.json["status"] == target
    [entry] = audit_entries(app, action=f"organisation.{action}", actor_id=officer.id)
    assert (entry.before["status"], entry.after["status"]) == (start, target)
    assert outbox_events(app, f"organisation.{target}")[-1].payload["organisation_id"] == str(
        organisation.id)


@pytest.mark.parametrize("action, start", [
    ("verify", "verified"), ("verify", "rejected"), ("reject", "verified"),
    ("suspend", "pending"), ("reinstate", "verified"), ("suspend", "rejected"),
])
def test_illegal_transitions_are_409_and_change_nothing(client, app, make, action, start):
    organisation, _ = make.organisation(status=start)
    officer = make.user("dp3a_admin")
    before = len(audit_entries(app))
    response = client.post(f"/api/v1/organisations/{organisation.id}/{action}",
                           json={"reason": "Alasan yang cukup"},
                           headers=bearer(make.token(officer)))
    assert response.status_code == 409
    assert response.json["current_status"] == start
    assert len(audit_entries(app)) == before


def test_rejecting_needs_a_reason(client, make):
    organisation, _ = make.organisation(status="pending")
    officer = make.user("dp3a_officer")
    response = client.post(f"/api/v1/organisations/{organisation.id}/reject", json={},
                           headers=bearer(make.token(officer)))
    assert response.status_code == 422 and "reason" in response.json["errors"]


def test_verifying_activates_the_offers_waiting_for_it(client, app, make):
    organisation, admin = make.organisation(status="pending")
    offer = make.offer(admin)  # submitted while pending
    assert offer.status == "submitted"
    officer = make.user("dp3a_officer")
    client.post(f"/api/v1/organisations/{organisation.id}/verify", json={},
                headers=bearer(make.token(officer)))
    response = client.get(f"/api/v1/offers/{offer.id}", headers=bearer(make.token(admin)))
    assert response.json["status"] == "active"
    assert [e.payload["offer_id"] for e in outbox_events(app, "offer.activated")] == [
        str(offer.id)]


def test_profile_edits_need_the_current_etag(client, app, make):
    organisation, admin = make.organisation()
    headers = bearer(make.token(admin))
    read = client.get(f"/api/v1/organisations/{organisation.id}", headers=headers)
    etag = read.headers["ETag"]
    url = f"/api/v1/organisations/{organisation.id}"
    assert client.patch(url, json={"sector": "Ritel"}, headers=headers).status_code == 428
    response = client.patch(url, json={"sector": "Ritel"}, headers={**headers, "If-Match": etag})
    assert response.status_code == 200 and response.json["sector"] == "Ritel"
    assert response.headers["ETag"] != etag
    stale = client.patch(url, json={"sector": "Lain"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 409 and stale.json["type"].endswith("stale-version")
    [entry] = audit_entries(app, action="organisation.updated")
    assert (entry.before["sector"], entry.after["sector"]) == ("Uji", "Ritel")


def test_a_company_cannot_see_or_edit_another(client, make):
    organisation, _ = make.organisation()
    _, other_admin = make.organisation()
    headers = bearer(make.token(other_admin))
    assert client.get(f"/api/v1/organisations/{organisation.id}",
                      headers=headers).status_code == 403
    response = client.patch(f"/api/v1/organisations/{organisation.id}", json={"sector": "X"},
                            headers={**headers, "If-Match": "*"})
    assert response.status_code == 403


def test_dp3a_lists_the_verification_queue(client, make):
    pending, _ = make.organisation(status="pending")
    make.organisation(status="verified")
    officer = make.user("dp3a_officer")
    response = client.get("/api/v1/organisations?status=pending",
                          headers=bearer(make.token(officer)))
    assert response.status_code == 200
    assert [o["id"] for o in response.json] == [str(pending.id)]
    assert '"total": 1' in response.headers["X-Pagination"]


def test_text_that_postgresql_cannot_store_is_refused_not_a_500(client, app):
    body = '{"kind": "company", "name": "PT \\ud800 Rusak", "nib": "1234567890123"}'
    response = client.post("/api/v1/organisations", data=body, content_type="application/json")
    assert response.status_code in (400, 422), response.json
    assert response.content_type == "application/problem+json"
    assert count_rows(app, Organisation) == 0
