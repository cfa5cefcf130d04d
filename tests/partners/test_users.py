"""People: one's own profile, invitations into an organisation, and an admin's changes to
colleagues. Every write is audited."""
from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from services.partners.models import Invitation, User, db
from shared.db import utcnow
from tests.partners.conftest import (
    KOTA_BEKASI,
    MUSTIKAJAYA,
    MUSTIKASARI,
    PASSWORD,
    audit_entries,
    bearer,
    count_rows,
    outbox_events,
)

PROBLEM = "application/problem+json"
NEW_PASSWORD = "a much better passphrase"


def login(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token",
                       json={"grant_type": "password", "email": email, "password": password})


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    return response.json


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


# --- my profile -----------------------------------------------------------------------------

def test_i_read_my_profile_with_an_etag(client, make):
    organisation, admin = make.organisation()
    response = client.get("/api/v1/users/me", headers=bearer(make.token(admin)))
    assert response.status_code == 200
    body = response.json
    assert (body["id"], body["email"], body["role"], body["organisation_id"]) == (
        str(admin.id), admin.email, "partner_admin", str(organisation.id))
    assert body["locale"] == "id" and body["is_active"] is True
    assert "password" not in body and "password_hash" not in body
    assert response.headers["ETag"] == f'"{admin.id}.1"'


def test_machine_clients_have_no_profile(client, make):
    assert_problem(client.get("/api/v1/users/me", headers=bearer(make.service_token())), 403)


def test_changing_my_language_needs_the_current_etag(client, app, make):
    user = make.user("partner_member")
    headers = bearer(make.token(user))
    etag = client.get("/api/v1/users/me", headers=headers).headers["ETag"]

    missing = client.patch("/api/v1/users/me", json={"locale": "en"}, headers=headers)
    assert assert_problem(missing, 428)["type"].endswith("precondition-required")
    changed = client.patch("/api/v1/users/me", json={"locale": "en"},
                           headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.json
    assert changed.json["locale"] == "en"
    assert changed.headers["ETag"] != etag
    stale = client.patch("/api/v1/users/me", json={"name": "Nama Lain"},
                         headers={**headers, "If-Match": etag})
    assert assert_problem(stale, 409)["type"].endswith("stale-version")
    assert client.get("/api/v1/users/me", headers=headers).json["name"] == user.name

    [entry] = audit_entries(app, action="user.updated", object_id=user.id)
    assert (entry.before["locale"], entry.after["locale"]) == ("id", "en")
    assert entry.actor_id == str(user.id)
    [event] = outbox_events(app, "user.updated")
    assert event.payload["locale"] == "en" and event.payload["user_id"] == str(user.id)
    # The next token carries the new language.
    token = login(client, user.email).json["access_token"]
    assert claims_of(token)["locale"] == "en"


@pytest.mark.parametrize("changes, field", [
    ({"locale": "fr"}, "locale"),
    ({"name": "x"}, "name"),
    ({"role": "partner_admin"}, "role"),
    ({"email": "new@uji.example"}, "email"),
    ({"new_password": NEW_PASSWORD}, "new_password"),
    ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
])
def test_bad_profile_changes_are_422_and_change_nothing(client, app, make, changes, field):
    user = make.user("partner_member")
    headers = {**bearer(make.token(user)), "If-Match": "*"}
    errors = assert_problem(client.patch("/api/v1/users/me", json=changes, headers=headers),
                            422)["errors"]
    assert field in errors, errors
    assert audit_entries(app, action="user.updated") == []
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert (stored.role, stored.locale, stored.email, stored.version) == (
            "partner_member", "id", user.email, 1)


def test_changing_my_password_needs_the_current_one(client, app, make):
    user = make.user("partner_member")
    headers = bearer(make.token(user))
    etag = client.get("/api/v1/users/me", headers=headers).headers["ETag"]

    wrong = client.patch("/api/v1/users/me", headers={**headers, "If-Match": etag},
                         json={"current_password": "not my password", "new_password": NEW_PASSWORD})
    assert "current_password" in assert_problem(wrong, 422)["errors"]
    assert audit_entries(app, action="user.updated") == []
    assert login(client, user.email, NEW_PASSWORD).status_code == 401

    right = client.patch("/api/v1/users/me", headers={**headers, "If-Match": etag},
                         json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert right.status_code == 200, right.json
    assert login(client, user.email, NEW_PASSWORD).status_code == 200
    assert login(client, user.email, PASSWORD).status_code == 401
    [entry] = audit_entries(app, action="user.updated", object_id=user.id)
    assert NEW_PASSWORD not in str(entry.after) and "password_hash" not in entry.after
    assert all(NEW_PASSWORD not in str(e.payload) for e in outbox_events(app))


# --- invitations ----------------------------------------------------------------------------

def invite(client, make, inviter, organisation_id, **body):
    body.setdefault("email", "sari@uji.example")
    body.setdefault("role", "partner_member")
    return client.post(f"/api/v1/organisations/{organisation_id}/invitations", json=body,
                       headers=bearer(make.token(inviter)))


def accept(client, token, **body):
    return client.post("/api/v1/invitations/accept",
                       json={"token": token, "name": "Sari Wulandari", "password": NEW_PASSWORD,
                             **body})


def test_an_admin_invites_a_colleague_who_accepts_and_signs_in(client, app, make):
    organisation, admin = make.organisation()
    response = invite(client, make, admin, organisation.id, email="Sari@Uji.example",
                      name="Sari", locale="en")
    assert response.status_code == 201, response.json
    invitation = response.json
    token = invitation["token"]
    assert (invitation["email"], invitation["role"], invitation["organisation_id"]) == (
        "sari@uji.example", "partner_member", str(organisation.id))
    assert invitation["accepted_at"] is None
    with app.app_context():  # the token is stored hashed only
        stored = db.session.get(Invitation, invitation["id"])
        assert token != stored.token_hash and token not in stored.token_hash
        assert stored.invited_by == admin.id
    [event] = outbox_events(app, "user.invited")
    assert (event.payload["email"], event.payload["token"], event.payload["locale"]) == (
        "sari@uji.example", token, "en")
    assert event.payload["organisation_name"] == organisation.name
    [created] = audit_entries(app, action="invitation.created")
    assert created.actor_id == str(admin.id) and created.object_id == invitation["id"]
    assert created.after["email"] == "sari@uji.example" and token not in str(created.after)

    accepted = accept(client, token)
    assert accepted.status_code == 201, accepted.json
    user = accepted.json
    assert (user["email"], user["role"], user["organisation_id"], user["locale"]) == (
        "sari@uji.example", "partner_member", str(organisation.id), "en")
    [joined] = audit_entries(app, action="user.created", object_id=user["id"])
    assert joined.after["role"] == "partner_member"
    assert [e.payload["email"] for e in outbox_events(app, "user.created")][-1] == (
        "sari@uji.example")

    signed_in = login(client, "sari@uji.example", NEW_PASSWORD)
    assert signed_in.status_code == 200
    claims = claims_of(signed_in.json["access_token"])
    assert (claims["sub"], claims["role"], claims["org"]) == (
        user["id"], "partner_member", str(organisation.id))


def test_an_invitation_works_once(client, app, make):
    organisation, admin = make.organisation()
    token = invite(client, make, admin, organisation.id).json["token"]
    assert accept(client, token).status_code == 201
    again = accept(client, token, name="Orang Lain", password="another password!")
    assert assert_problem(again, 409)["type"].endswith("invitation-used")
    assert count_rows(app, User) == 2
    assert login(client, "sari@uji.example", "another password!").status_code == 401


def test_an_expired_invitation_is_409(client, app, make):
    organisation, admin = make.organisation()
    response = invite(client, make, admin, organisation.id).json
    with app.app_context():
        db.session.execute(sa.update(Invitation).where(Invitation.id == response["id"]).values(
            expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    body = assert_problem(accept(client, response["token"]), 409)
    assert body["type"].endswith("invitation-expired")
    assert count_rows(app, User) == 1


def test_unknown_and_replaced_invitations_are_404(client, app, make):
    organisation, admin = make.organisation()
    assert_problem(accept(client, "x" * 43), 404)
    first = invite(client, make, admin, organisation.id).json["token"]
    second = invite(client, make, admin, organisation.id).json["token"]
    assert_problem(accept(client, first), 404)  # the newer invitation replaced it
    assert accept(client, second).status_code == 201
    assert count_rows(app, User) == 2


def test_accepting_validates_name_and_password(client, make):
    organisation, admin = make.organisation()
    token = invite(client, make, admin, organisation.id).json["token"]
    errors = assert_problem(accept(client, token, password="short", name=""), 422)["errors"]
    assert {"password", "name"} <= set(errors)
    assert accept(client, token).status_code == 201


def test_a_member_cannot_invite(client, app, make):
    organisation, _ = make.organisation()
    member = make.user("partner_member", organisation)
    assert_problem(invite(client, make, member, organisation.id), 403)
    assert count_rows(app, Invitation) == 0 and outbox_events(app, "user.invited") == []


def test_an_admin_cannot_invite_into_another_organisation(client, app, make):
    organisation, _ = make.organisation()
    _, other_admin = make.organisation()
    assert_problem(invite(client, make, other_admin, organisation.id), 403)
    agency = make.agency()
    assert_problem(invite(client, make, other_admin, agency.id, role="dp3a_officer"), 403)
    assert count_rows(app, Invitation) == 0


@pytest.mark.parametrize("role", ["dp3a_officer", "dp3a_admin", "coordinator"])
def test_a_partner_admin_cannot_invite_dp3a_roles(client, app, make, role):
    organisation, admin = make.organisation()
    regions = [MUSTIKASARI] if role == "coordinator" else []
    response = invite(client, make, admin, organisation.id, role=role, region_codes=regions)
    assert "role" in assert_problem(response, 422)["errors"]
    assert count_rows(app, Invitation) == 0


def test_someone_with_an_account_cannot_be_invited_again(client, app, make):
    organisation, admin = make.organisation()
    member = make.user("partner_member", organisation)
    response = invite(client, make, admin, organisation.id, email=member.email)
    assert "email" in assert_problem(response, 409)["errors"]


def test_dp3a_admin_invites_a_coordinator_for_her_regions(client, app, make):
    agency = make.agency()
    dp3a_admin = make.user("dp3a_admin")
    without = invite(client, make, dp3a_admin, agency.id, email="kader@uji.example",
                     role="coordinator")
    assert "region_codes" in assert_problem(without, 422)["errors"]
    unknown = invite(client, make, dp3a_admin, agency.id, email="kader@uji.example",
                     role="coordinator", region_codes=["99.99.99"])
    assert_problem(unknown, 422)
    officer_with_regions = invite(client, make, dp3a_admin, agency.id, email="kader@uji.example",
                                  role="dp3a_officer", region_codes=[MUSTIKASARI])
    assert "region_codes" in assert_problem(officer_with_regions, 422)["errors"]
    partner_role = invite(client, make, dp3a_admin, agency.id, email="kader@uji.example",
                          role="partner_member")
    assert "role" in assert_problem(partner_role, 422)["errors"]
    assert count_rows(app, Invitation) == 0

    response = invite(client, make, dp3a_admin, agency.id, email="kader@uji.example",
                      role="coordinator", region_codes=[MUSTIKASARI, "32.75.03"])
    assert response.status_code == 201, response.json
    assert response.json["region_codes"] == [MUSTIKASARI, "32.75.03"]
    [entry] = audit_entries(app, action="invitation.created")
    assert entry.after["region_codes"] == [MUSTIKASARI, "32.75.03"]
    user = accept(client, response.json["token"]).json
    assert (user["role"], user["region_codes"]) == ("coordinator", [MUSTIKASARI, "32.75.03"])
    claims = claims_of(login(client, "kader@uji.example", NEW_PASSWORD).json["access_token"])
    assert claims["regions"] == [MUSTIKASARI, "32.75.03"]


def test_a_dp3a_officer_cannot_invite(client, app, make):
    agency = make.agency()
    officer = make.user("dp3a_officer")
    assert_problem(invite(client, make, officer, agency.id, role="dp3a_officer"), 403)


# --- an admin's changes to colleagues -------------------------------------------------------

def _etag(client, make, admin, user_id):
    response = client.get(f"/api/v1/users/{user_id}", headers=bearer(make.token(admin)))
    assert response.status_code == 200, response.json
    return response.headers["ETag"]


def administer(client, make, admin, user_id, changes, etag=None):
    headers = bearer(make.token(admin))
    if etag is not False:
        headers["If-Match"] = etag or _etag(client, make, admin, user_id)
    return client.patch(f"/api/v1/users/{user_id}", json=changes, headers=headers)


def test_an_admin_promotes_a_colleague_with_the_current_etag(client, app, make):
    organisation, admin = make.organisation()
    member = make.user("partner_member", organisation)
    assert_problem(administer(client, make, admin, member.id, {"role": "partner_admin"},
                              etag=False), 428)
    etag = _etag(client, make, admin, member.id)
    response = administer(client, make, admin, member.id, {"role": "partner_admin"}, etag)
    assert response.status_code == 200, response.json
    assert response.json["role"] == "partner_admin"
    stale = administer(client, make, admin, member.id, {"role": "partner_member"}, etag)
    assert_problem(stale, 409)
    [entry] = audit_entries(app, action="user.administered", object_id=member.id)
    assert (entry.before["role"], entry.after["role"]) == ("partner_member", "partner_admin")
    assert entry.actor_id == str(admin.id)
    assert outbox_events(app, "user.updated")[-1].payload["role"] == "partner_admin"
    claims = claims_of(login(client, member.email).json["access_token"])
    assert claims["role"] == "partner_admin"


def test_an_admin_deactivates_a_colleague_who_then_cannot_sign_in(client, app, make):
    organisation, admin = make.organisation()
    member = make.user("partner_member", organisation)
    response = administer(client, make, admin, member.id, {"is_active": False})
    assert response.status_code == 200 and response.json["is_active"] is False
    assert_problem(login(client, member.email), 401)
    [entry] = audit_entries(app, action="user.administered", object_id=member.id)
    assert (entry.before["is_active"], entry.after["is_active"]) == (True, False)


def test_an_admin_cannot_change_their_own_role_or_deactivate_themself(client, app, make):
    organisation, admin = make.organisation()
    make.user("partner_admin", organisation)  # not the last admin: only the self-rule applies
    for changes in ({"role": "partner_member"}, {"is_active": False}):
        body = assert_problem(administer(client, make, admin, admin.id, changes), 409)
        assert body["type"].endswith("self-change")
    assert audit_entries(app, action="user.administered") == []
    with app.app_context():
        stored = db.session.get(User, admin.id)
        assert (stored.role, stored.is_active) == ("partner_admin", True)


def test_the_last_admin_cannot_be_demoted_even_with_a_stale_token(client, app, make):
    organisation, first = make.organisation()
    second = make.user("partner_admin", organisation)
    first_token = make.token(first)  # issued while `first` is still an admin
    demoted = administer(client, make, second, first.id, {"role": "partner_member"})
    assert demoted.status_code == 200, demoted.json
    # `first` still holds an admin token for a few minutes; second is now the last admin.
    etag = _etag(client, make, second, second.id)
    for changes in ({"role": "partner_member"}, {"is_active": False}):
        response = client.patch(f"/api/v1/users/{second.id}", json=changes,
                                headers={**bearer(first_token), "If-Match": etag})
        assert assert_problem(response, 409)["type"].endswith("last-admin")
    with app.app_context():
        assert db.session.get(User, second.id).role == "partner_admin"
    assert len(audit_entries(app, action="user.administered")) == 1


def test_the_last_dp3a_admin_cannot_be_demoted(client, app, make):
    agency = make.agency()
    only = make.user("dp3a_admin")
    officer = make.user("dp3a_officer")
    stale_token = make.token(make.user("dp3a_admin"))
    with app.app_context():  # the other admin has since been demoted
        db.session.execute(sa.update(User).where(User.role == "dp3a_admin", User.id != only.id)
                           .values(role="dp3a_officer"))
        db.session.commit()
    response = client.patch(f"/api/v1/users/{only.id}", json={"role": "dp3a_officer"},
                            headers={**bearer(stale_token), "If-Match": "*"})
    assert assert_problem(response, 409)["type"].endswith("last-admin")
    assert agency.id == only.organisation_id
    # Promoting an officer to coordinator needs her regions.
    no_regions = administer(client, make, only, officer.id, {"role": "coordinator"})
    assert "region_codes" in assert_problem(no_regions, 422)["errors"]
    coordinator = administer(client, make, only, officer.id,
                             {"role": "coordinator", "region_codes": [MUSTIKAJAYA]})
    assert coordinator.status_code == 200, coordinator.json
    assert coordinator.json["region_codes"] == [MUSTIKAJAYA]
    widened = administer(client, make, only, officer.id, {"region_codes": [KOTA_BEKASI]})
    assert widened.json["region_codes"] == [KOTA_BEKASI]
    entries = audit_entries(app, action="user.administered", object_id=officer.id)
    assert [(e.before["region_codes"], e.after["region_codes"]) for e in entries] == [
        ([], [MUSTIKAJAYA]), ([MUSTIKAJAYA], [KOTA_BEKASI])]


def test_a_partner_admin_cannot_give_a_colleague_a_dp3a_role(client, app, make):
    organisation, admin = make.organisation()
    member = make.user("partner_member", organisation)
    for changes in ({"role": "dp3a_admin"}, {"role": "coordinator", "region_codes": [MUSTIKASARI]},
                    {"region_codes": [MUSTIKASARI]}):
        errors = assert_problem(administer(client, make, admin, member.id, changes), 422)
        assert set(errors["errors"]) & {"role", "region_codes"}, errors
    assert audit_entries(app, action="user.administered") == []


def test_admins_manage_only_their_own_organisation_and_members_manage_no_one(client, app,
                                                                             make):
    organisation, admin = make.organisation()
    member = make.user("partner_member", organisation)
    _, other_admin = make.organisation()
    assert_problem(client.get(f"/api/v1/users/{member.id}",
                              headers=bearer(make.token(other_admin))), 404)
    assert_problem(administer(client, make, other_admin, member.id, {"is_active": False},
                              etag="*"), 404)
    assert_problem(administer(client, make, member, admin.id, {"is_active": False}, etag="*"),
                   403)
    officer = make.user("dp3a_admin")  # DP3A admins manage the agency, not companies
    assert_problem(administer(client, make, officer, member.id, {"is_active": False},
                              etag="*"), 404)
    assert audit_entries(app, action="user.administered") == []
    with app.app_context():
        assert db.session.get(User, member.id).is_active is True
