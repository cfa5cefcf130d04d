"""Offers: creating each kind, the rules they must follow, their lifecycle, who may see and
change them, searching them, and safe retries of a create."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.partners.models import Offer, OfferRegion, OfferTopic
from shared.clock import today_wib
from tests.partners.conftest import (
    KOTA_BEKASI,
    MUSTIKAJAYA,
    MUSTIKASARI,
    audit_entries,
    bearer,
    count_rows,
    outbox_events,
)

TODAY = today_wib()
BEKASI_UTARA = "32.75.03"


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def offer_body(**overrides):
    body = {
        "kind": "trainer", "title": "Pelatih pemasaran digital untuk UMKM perempuan",
        "description": "Dua pelatih berpengalaman, materi dalam bahasa Indonesia.",
        "topics": ["pemasaran_digital", "kewirausahaan"], "unit": "sessions", "capacity": 12,
        "available_from": day(0), "available_to": day(60),
        "delivery_regions": [MUSTIKAJAYA], "mode": "hybrid", "language": "id",
    }
    body.update(overrides)
    return body


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


@pytest.fixture
def partner(make):
    """A verified company's admin and the headers to act as her."""
    organisation, admin = make.organisation()
    return organisation, admin, bearer(make.token(admin))


# --- creating -----------------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [
    {"kind": "funding", "title": "Dana insentif fasilitator 2027", "unit": "rupiah",
     "capacity": 150_000_000, "topics": ["insentif_fasilitator"], "mode": "online"},
    {"kind": "module", "title": "Modul literasi keuangan keluarga", "unit": "seats",
     "capacity": 40, "topics": ["manajemen_keuangan", "ketahanan_keluarga"], "mode": "online"},
    {"kind": "trainer", "title": "Pelatih pemasaran digital", "unit": "sessions",
     "capacity": 8, "topics": ["pemasaran_digital"], "mode": "hybrid"},
    {"kind": "facility", "title": "Aula serbaguna kantor cabang", "unit": "units",
     "capacity": 2, "topics": ["sarana_prasarana"], "mode": "onsite"},
], ids=["funding", "module", "trainer", "facility"])
def test_a_partner_creates_each_kind_of_offer_as_a_draft(client, app, partner, overrides):
    organisation, admin, headers = partner
    response = client.post("/api/v1/offers", json=offer_body(**overrides), headers=headers)
    assert response.status_code == 201, response.json
    offer = response.json
    assert offer["status"] == "draft"
    assert offer["organisation_id"] == str(organisation.id)
    assert offer["organisation_name"] == organisation.name
    for name in ("kind", "title", "unit", "capacity", "mode"):
        assert offer[name] == overrides[name]
    assert offer["topics"] == sorted(overrides["topics"])
    assert offer["delivery_regions"] == [MUSTIKAJAYA]
    assert (offer["reserved"], offer["committed"], offer["remaining"]) == (
        0, 0, overrides["capacity"])
    assert response.headers["Location"].endswith(f"/api/v1/offers/{offer['id']}")
    read = client.get(response.headers["Location"], headers=headers)
    assert read.status_code == 200 and read.json == offer
    assert response.headers["ETag"] == read.headers["ETag"]
    [entry] = audit_entries(app, action="offer.created")
    assert entry.object_type == "offer" and entry.object_id == offer["id"]
    assert entry.actor_id == str(admin.id)
    assert entry.before is None
    assert entry.after["status"] == "draft" and entry.after["capacity"] == overrides["capacity"]
    assert outbox_events(app, "offer.activated") == []


def test_the_description_and_language_have_defaults(client, partner):
    _, _, headers = partner
    body = offer_body()
    del body["description"], body["language"]
    response = client.post("/api/v1/offers", json=body, headers=headers)
    assert response.status_code == 201, response.json
    assert (response.json["description"], response.json["language"]) == ("", "id")


@pytest.mark.parametrize("overrides, field, message", [
    ({"kind": "funding", "unit": "sessions"}, "unit", "rupiah"),
    ({"kind": "trainer", "unit": "seats"}, "unit", "sessions"),
    ({"kind": "module", "unit": "rupiah"}, "unit", "sessions, seats, units"),
    ({"unit": "jam"}, "unit", "Must be one of"),
    ({"kind": "facility", "unit": "units", "mode": "online"}, "mode", "onsite"),
    ({"kind": "facility", "unit": "units", "mode": "hybrid"}, "mode", "onsite"),
    ({"capacity": 0}, "capacity", "greater than or equal to 1"),
    ({"capacity": -5}, "capacity", "greater than or equal to 1"),
    ({"capacity": 2.5}, "capacity", "Not a valid integer"),
    ({"capacity": "10"}, "capacity", "Not a valid integer"),
    ({"capacity": True}, "capacity", "Not a valid integer"),
    ({"capacity": None}, "capacity", "null"),
    ({"capacity": 100_001}, "capacity", "At most 100000"),
    ({"kind": "funding", "unit": "rupiah", "capacity": 100_000_000_001}, "capacity",
     "less than or equal to"),
    ({"topics": ["astrologi"]}, "topics", "Not in the topic vocabulary: astrologi"),
    ({"topics": ["parenting", "astrologi", "numerologi"]}, "topics", "astrologi, numerologi"),
    ({"topics": ["parenting", "parenting"]}, "topics", "only once"),
    ({"topics": []}, "topics", "between 1 and 10"),
    ({"topics": None}, "topics", "null"),
    ({"delivery_regions": ["32.75.99"]}, "delivery_regions", "Unknown region"),
    ({"delivery_regions": []}, "delivery_regions", "between 1 and 500"),
    ({"delivery_regions": [MUSTIKAJAYA, MUSTIKAJAYA]}, "delivery_regions", "only once"),
    ({"available_from": day(10), "available_to": day(5)}, "available_to", "on or after"),
    ({"available_from": day(-30), "available_to": day(-1)}, "available_to", "already ended"),
    ({"available_to": "31-12-2027"}, "available_to", "Not a valid date"),
    ({"status": "active"}, "status", "Unknown field"),
    ({"reserved": 3}, "reserved", "Unknown field"),
    ({"language": "ind"}, "language", "ISO 639-1"),
    ({"language": "ID"}, "language", "ISO 639-1"),
    ({"mode": "telepathic"}, "mode", "Must be one of"),
    ({"kind": "voucher"}, "kind", "Must be one of"),
    ({"title": "  "}, "title", "Length"),
])
def test_each_bad_offer_value_is_refused_naming_the_field_and_nothing_is_stored(
        client, app, partner, overrides, field, message):
    _, _, headers = partner
    response = client.post("/api/v1/offers", json=offer_body(**overrides), headers=headers)
    assert response.status_code == 422, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 422
    errors = response.json["errors"]
    flat = " ".join(" ".join(v) for k, v in errors.items() if k.split(".")[0] == field)
    assert message.lower() in flat.lower(), errors
    assert count_rows(app, Offer) == 0
    assert count_rows(app, OfferTopic) == 0 and count_rows(app, OfferRegion) == 0
    assert audit_entries(app, action="offer.created") == []


def test_only_topics_of_the_published_vocabulary_are_accepted(client, partner):
    _, _, headers = partner
    vocabulary = {t["code"] for t in client.get("/api/v1/topics").json}
    assert "pemasaran_digital" in vocabulary and "astrologi" not in vocabulary
    assert client.post("/api/v1/offers", json=offer_body(topics=["astrologi"]),
                       headers=headers).status_code == 422
    assert client.post("/api/v1/offers", json=offer_body(topics=["pemasaran_digital"]),
                       headers=headers).status_code == 201


def test_a_missing_required_field_is_named(client, app, partner):
    _, _, headers = partner
    body = offer_body()
    del body["capacity"], body["delivery_regions"]
    response = client.post("/api/v1/offers", json=body, headers=headers)
    assert response.status_code == 422
    assert set(response.json["errors"]) >= {"capacity", "delivery_regions"}
    assert count_rows(app, Offer) == 0


@pytest.mark.parametrize("status", ["rejected", "suspended"])
def test_a_rejected_or_suspended_organisation_cannot_create_offers(client, app, make, status):
    _, admin = make.organisation(status=status)
    response = client.post("/api/v1/offers", json=offer_body(), headers=bearer(make.token(admin)))
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("organisation-not-active")
    assert status in response.json["detail"]
    assert count_rows(app, Offer) == 0


def test_a_pending_organisation_may_prepare_offers(client, make):
    _, admin = make.organisation(status="pending")
    response = client.post("/api/v1/offers", json=offer_body(), headers=bearer(make.token(admin)))
    assert response.status_code == 201 and response.json["status"] == "draft"


@pytest.mark.parametrize("role", ["dp3a_officer", "coordinator"])
def test_only_partners_create_offers(client, app, make, role):
    user = make.user(role)
    response = client.post("/api/v1/offers", json=offer_body(), headers=bearer(make.token(user)))
    assert response.status_code == 403
    assert client.post("/api/v1/offers", json=offer_body()).status_code == 401
    assert count_rows(app, Offer) == 0


# --- lifecycle ----------------------------------------------------------------------------

def test_submitting_a_verified_organisations_offer_makes_it_active(client, app, make, partner):
    organisation, admin, headers = partner
    offer = make.offer(admin, status="draft")
    response = client.post(f"/api/v1/offers/{offer.id}/submit", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "active"
    assert response.json["submitted_at"] and response.json["activated_at"]
    [event] = outbox_events(app, "offer.activated")
    assert event.payload["offer_id"] == str(offer.id)
    assert event.payload["organisation_id"] == str(organisation.id)
    assert event.payload["remaining"] == 10
    [entry] = audit_entries(app, action="offer.submit", object_id=offer.id)
    assert (entry.before["status"], entry.after["status"]) == ("draft", "active")


def test_submitting_while_the_organisation_is_pending_waits_for_verification(client, app,
                                                                               make):
    _, admin = make.organisation(status="pending")
    headers = bearer(make.token(admin))
    offer = make.offer(admin, status="draft")
    response = client.post(f"/api/v1/offers/{offer.id}/submit", headers=headers)
    assert response.status_code == 200
    assert response.json["status"] == "submitted"
    assert response.json["activated_at"] is None
    assert outbox_events(app, "offer.activated") == []


@pytest.mark.parametrize("start", ["draft", "active"])
def test_a_partner_withdraws_an_offer(client, app, make, partner, start):
    _, admin, headers = partner
    offer = make.offer(admin, status=start)
    response = client.post(f"/api/v1/offers/{offer.id}/withdraw", headers=headers)
    assert response.status_code == 200
    assert response.json["status"] == "withdrawn" and response.json["withdrawn_at"]
    [event] = outbox_events(app, "offer.withdrawn")
    assert event.payload["offer_id"] == str(offer.id)
    [entry] = audit_entries(app, action="offer.withdraw")
    assert (entry.before["status"], entry.after["status"]) == (start, "withdrawn")


@pytest.mark.parametrize("start, action", [
    ("active", "submit"),
    ("withdrawn", "submit"),
    ("withdrawn", "withdraw"),
])
def test_illegal_offer_transitions_are_409_and_change_nothing(client, app, make, partner,
                                                              start, action):
    _, admin, headers = partner
    offer = make.offer(admin, status=start)
    entries_before = len(audit_entries(app))
    response = client.post(f"/api/v1/offers/{offer.id}/{action}", headers=headers)
    assert response.status_code == 409
    assert response.json["type"].endswith("illegal-transition")
    assert response.json["current_status"] == start
    assert client.get(f"/api/v1/offers/{offer.id}", headers=headers).json["status"] == start
    assert len(audit_entries(app)) == entries_before


def test_submitting_twice_is_refused(client, partner, make):
    _, admin, headers = partner
    offer = make.offer(admin, status="draft")
    assert client.post(f"/api/v1/offers/{offer.id}/submit", headers=headers).status_code == 200
    again = client.post(f"/api/v1/offers/{offer.id}/submit", headers=headers)
    assert again.status_code == 409 and again.json["current_status"] == "active"


def test_a_withdrawn_offer_cannot_be_edited(client, app, make, partner):
    _, admin, headers = partner
    offer = make.offer(admin, status="withdrawn")
    etag = client.get(f"/api/v1/offers/{offer.id}", headers=headers).headers["ETag"]
    response = client.patch(f"/api/v1/offers/{offer.id}", json={"title": "Judul baru"},
                            headers={**headers, "If-Match": etag})
    assert response.status_code == 409
    assert response.json["current_status"] == "withdrawn"
    assert client.get(f"/api/v1/offers/{offer.id}", headers=headers).json["title"] == (
        "Pelatih pemasaran digital")
    assert audit_entries(app, action="offer.updated") == []


# --- editing ------------------------------------------------------------------------------

def test_edits_need_the_current_etag(client, app, make, partner):
    _, admin, headers = partner
    offer = make.offer(admin)
    url = f"/api/v1/offers/{offer.id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    missing = client.patch(url, json={"capacity": 20}, headers=headers)
    assert missing.status_code == 428
    assert missing.content_type == "application/problem+json"
    response = client.patch(url, json={"capacity": 20, "topics": ["parenting", "kewirausahaan"]},
                            headers={**headers, "If-Match": etag})
    assert response.status_code == 200, response.json
    assert response.json["capacity"] == 20 and response.json["remaining"] == 20
    assert response.json["topics"] == ["kewirausahaan", "parenting"]
    assert response.headers["ETag"] != etag
    stale = client.patch(url, json={"capacity": 30}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 409 and stale.json["type"].endswith("stale-version")
    assert client.get(url, headers=headers).json["capacity"] == 20
    [entry] = audit_entries(app, action="offer.updated")
    assert (entry.before["capacity"], entry.after["capacity"]) == (10, 20)
    assert entry.after["topics"] == ["kewirausahaan", "parenting"]


def test_the_etag_from_an_edit_is_good_for_the_next_edit(client, make, partner):
    _, admin, headers = partner
    offer = make.offer(admin)
    url = f"/api/v1/offers/{offer.id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    for title in ("Judul pertama", "Judul kedua", "Judul ketiga"):
        response = client.patch(url, json={"title": title},
                                headers={**headers, "If-Match": etag})
        assert response.status_code == 200, response.json
        assert response.headers["ETag"] != etag
        etag = response.headers["ETag"]
    read = client.get(url, headers=headers)
    assert read.headers["ETag"] == etag and read.json["title"] == "Judul ketiga"


@pytest.mark.parametrize("changes", [
    {"topics": ["parenting"]},
    {"delivery_regions": [KOTA_BEKASI]},
])
def test_an_edit_of_only_topics_or_regions_still_protects_against_lost_updates(
        client, make, partner, changes):
    organisation, admin, headers = partner
    colleague = bearer(make.token(make.user("partner_member", organisation)))
    offer = make.offer(admin)
    url = f"/api/v1/offers/{offer.id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    first = client.patch(url, json=changes, headers={**headers, "If-Match": etag})
    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    # the colleague read the offer before that edit: her change must not silently win
    late = client.patch(url, json={"topics": ["hak_perempuan"],
                                   "delivery_regions": [BEKASI_UTARA]},
                        headers={**colleague, "If-Match": etag})
    assert late.status_code == 409 and late.json["type"].endswith("stale-version")
    read = client.get(url, headers=headers).json
    for name, value in changes.items():
        assert read[name] == value


def test_topics_and_regions_can_be_replaced_keeping_some(client, make, partner):
    _, admin, headers = partner
    offer = make.offer(admin, topics=["pemasaran_digital", "kewirausahaan"],
                       delivery_regions=[MUSTIKAJAYA, BEKASI_UTARA])
    url = f"/api/v1/offers/{offer.id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    response = client.patch(url, json={"topics": ["kewirausahaan", "literasi_digital"],
                                       "delivery_regions": [MUSTIKAJAYA, MUSTIKASARI]},
                            headers={**headers, "If-Match": etag})
    assert response.status_code == 200, response.json
    read = client.get(url, headers=headers).json
    assert read["topics"] == ["kewirausahaan", "literasi_digital"]
    assert read["delivery_regions"] == [MUSTIKAJAYA, MUSTIKASARI]
    officer = bearer(make.token(make.user("dp3a_officer")))
    # The search follows the edit: by the new topic and region, not by the old ones.
    assert found(client, officer, {"topic": "pemasaran_digital"}) == set()
    assert found(client, officer, {"topic": "literasi_digital"}) == {str(offer.id)}
    assert found(client, officer, {"region": MUSTIKASARI}) == {str(offer.id)}
    assert found(client, officer, {"region": BEKASI_UTARA}) == set()


@pytest.mark.parametrize("changes, field", [
    ({"mode": "online"}, "mode"),
    ({"unit": "rupiah"}, "unit"),
    ({"capacity": 0}, "capacity"),
    ({"topics": ["astrologi"]}, "topics"),
    ({"available_to": day(-400)}, "available_to"),
    ({"kind": "funding"}, "kind"),
])
def test_edits_follow_the_same_rules(client, make, partner, changes, field):
    _, admin, headers = partner
    offer = make.offer(admin, kind="facility", unit="units", topics=["sarana_prasarana"])
    url = f"/api/v1/offers/{offer.id}"
    before = client.get(url, headers=headers)
    response = client.patch(url, json=changes, headers={**headers,
                                                        "If-Match": before.headers["ETag"]})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert client.get(url, headers=headers).json == before.json


def test_capacity_cannot_drop_below_what_is_reserved_or_committed(client, make, partner):
    _, admin, headers = partner
    offer = make.offer(admin)
    ledger = bearer(make.service_token())
    url = f"/api/v1/offers/{offer.id}"
    client.post(f"{url}/reservations", json={"reference": "p-1", "quantity": 4}, headers=ledger)
    client.post(f"{url}/reservations", json={"reference": "p-2", "quantity": 3}, headers=ledger)
    client.post(f"{url}/reservations/p-2/commit", headers=ledger)
    etag = client.get(url, headers=headers).headers["ETag"]
    response = client.patch(url, json={"capacity": 6}, headers={**headers, "If-Match": etag})
    assert response.status_code == 422
    assert "7" in response.json["errors"]["capacity"][0]
    assert client.get(f"{url}/capacity", headers=headers).json["capacity"] == 10
    etag = client.get(url, headers=headers).headers["ETag"]
    response = client.patch(url, json={"capacity": 7}, headers={**headers, "If-Match": etag})
    assert response.status_code == 200
    assert (response.json["remaining"], response.json["status"]) == (0, "exhausted")


def test_raising_the_capacity_of_an_exhausted_offer_makes_it_active_again(client, app, make,
                                                                          partner):
    _, admin, headers = partner
    offer = make.offer(admin)
    url = f"/api/v1/offers/{offer.id}"
    client.post(f"{url}/reservations", json={"reference": "p-all", "quantity": 10},
                headers=bearer(make.service_token()))
    read = client.get(url, headers=headers)
    assert read.json["status"] == "exhausted"
    response = client.patch(url, json={"capacity": 15},
                            headers={**headers, "If-Match": read.headers["ETag"]})
    assert response.status_code == 200
    assert (response.json["status"], response.json["remaining"]) == ("active", 5)
    activated = outbox_events(app, "offer.activated")
    assert activated[-1].payload["offer_id"] == str(offer.id)
    assert activated[-1].payload["remaining"] == 5


# --- who may see and change what ----------------------------------------------------------

def test_another_company_can_neither_see_nor_change_a_draft(client, app, make, partner):
    _, admin, headers = partner
    offer = make.offer(admin, status="draft")
    _, stranger = make.organisation()
    theirs = bearer(make.token(stranger))
    url = f"/api/v1/offers/{offer.id}"
    assert client.get(url, headers=theirs).status_code == 404
    assert client.get(f"{url}/capacity", headers=theirs).status_code == 404
    response = client.patch(url, json={"title": "Dibajak"}, headers={**theirs, "If-Match": "*"})
    assert response.status_code in {403, 404}
    for action in ("submit", "withdraw"):
        assert client.post(f"{url}/{action}", headers=theirs).status_code in {403, 404}
    assert [o["id"] for o in client.get("/api/v1/offers", headers=theirs).json] == []
    mine = client.get(url, headers=headers).json
    assert (mine["status"], mine["title"]) == ("draft", "Pelatih pemasaran digital")
    assert audit_entries(app, object_id=offer.id, actor_id=stranger.id) == []


def test_a_member_of_the_same_organisation_may_edit_its_offers(client, make, partner):
    organisation, admin, _ = partner
    member = make.user("partner_member", organisation)
    headers = bearer(make.token(member))
    offer = make.offer(admin, status="draft")
    response = client.post(f"/api/v1/offers/{offer.id}/submit", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "active"


def test_a_coordinator_sees_only_active_offers(client, make, partner):
    _, admin, _ = partner
    active = make.offer(admin, title="Pelatih aktif")
    draft = make.offer(admin, status="draft", title="Pelatih draf")
    withdrawn = make.offer(admin, status="withdrawn", title="Pelatih ditarik")
    coordinator = make.user("coordinator")
    headers = bearer(make.token(coordinator))
    listed = client.get("/api/v1/offers", headers=headers)
    assert [o["id"] for o in listed.json] == [str(active.id)]
    assert client.get(f"/api/v1/offers/{active.id}", headers=headers).status_code == 200
    for hidden in (draft, withdrawn):
        assert client.get(f"/api/v1/offers/{hidden.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/offers?status=draft", headers=headers).json == []
    response = client.patch(f"/api/v1/offers/{active.id}", json={"title": "X"},
                            headers={**headers, "If-Match": "*"})
    assert response.status_code == 403


def test_dp3a_sees_every_offer_of_every_organisation(client, make):
    _, first = make.organisation()
    _, second = make.organisation(status="pending")
    offers = [make.offer(first, status="draft"), make.offer(first),
              make.offer(first, status="withdrawn"), make.offer(second)]
    officer = make.user("dp3a_officer")
    headers = bearer(make.token(officer))
    listed = client.get("/api/v1/offers", headers=headers)
    assert {o["id"] for o in listed.json} == {str(o.id) for o in offers}
    assert {o["status"] for o in listed.json} == {"draft", "active", "withdrawn", "submitted"}
    for offer in offers:
        assert client.get(f"/api/v1/offers/{offer.id}", headers=headers).status_code == 200
    # seeing is not editing: only the organisation changes its offers
    response = client.post(f"/api/v1/offers/{offers[0].id}/submit", headers=headers)
    assert response.status_code == 403


def test_a_partner_lists_only_its_own_offers(client, make, partner):
    _, admin, headers = partner
    mine = make.offer(admin, status="draft")
    _, other = make.organisation()
    make.offer(other)
    assert [o["id"] for o in client.get("/api/v1/offers", headers=headers).json] == [
        str(mine.id)]


# --- searching ----------------------------------------------------------------------------

@pytest.fixture
def officer_headers(make):
    return bearer(make.token(make.user("dp3a_officer")))


def found(client, headers, query) -> set[str]:
    response = client.get("/api/v1/offers", query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return {o["id"] for o in response.json}


def test_search_by_kind(client, make, officer_headers):
    _, admin = make.organisation()
    trainer = make.offer(admin)
    funding = make.offer(admin, kind="funding", unit="rupiah", capacity=5_000_000,
                         topics=["insentif_fasilitator"])
    assert found(client, officer_headers, {"kind": "funding"}) == {str(funding.id)}
    assert found(client, officer_headers, {"kind": "trainer"}) == {str(trainer.id)}
    assert found(client, officer_headers, {"kind": "facility"}) == set()


def test_search_by_any_of_several_topics(client, make, officer_headers):
    _, admin = make.organisation()
    parenting = make.offer(admin, topics=["parenting", "perlindungan_anak"])
    business = make.offer(admin, topics=["kewirausahaan"])
    make.offer(admin, topics=["literasi_digital"])
    response = client.get("/api/v1/offers?topic=parenting&topic=kewirausahaan",
                          headers=officer_headers)
    assert {o["id"] for o in response.json} == {str(parenting.id), str(business.id)}
    assert found(client, officer_headers, {"topic": "perlindungan_anak"}) == {str(parenting.id)}


def test_search_by_region_finds_offers_delivered_in_a_region_covering_it(client, make,
                                                                          officer_headers):
    _, admin = make.organisation()
    mustikajaya = make.offer(admin, delivery_regions=[MUSTIKAJAYA])
    bekasi_utara = make.offer(admin, delivery_regions=[BEKASI_UTARA])
    whole_city = make.offer(admin, delivery_regions=[KOTA_BEKASI])
    in_mustikasari = found(client, officer_headers, {"region": MUSTIKASARI})
    assert in_mustikasari == {str(mustikajaya.id), str(whole_city.id)}
    assert found(client, officer_headers, {"region": BEKASI_UTARA}) == {
        str(bekasi_utara.id), str(whole_city.id)}
    assert found(client, officer_headers, {"region": KOTA_BEKASI}) == {str(whole_city.id)}
    response = client.get("/api/v1/offers?region=99.99", headers=officer_headers)
    assert response.status_code == 422 and "region" in response.json["errors"]


def test_search_by_status_organisation_and_mode(client, make, officer_headers):
    first_org, first = make.organisation()
    second_org, second = make.organisation()
    draft = make.offer(first, status="draft", mode="online")
    active = make.offer(first, mode="onsite")
    other = make.offer(second, mode="online")
    assert found(client, officer_headers, {"status": "draft"}) == {str(draft.id)}
    assert found(client, officer_headers, {"status": "active"}) == {str(active.id),
                                                                    str(other.id)}
    assert found(client, officer_headers, {"organisation_id": str(second_org.id)}) == {
        str(other.id)}
    assert found(client, officer_headers, {"mode": "online"}) == {str(draft.id), str(other.id)}
    assert found(client, officer_headers, {"mode": "online", "organisation_id": str(
        first_org.id)}) == {str(draft.id)}


def test_search_by_window_overlap(client, make, officer_headers):
    _, admin = make.organisation()
    early = make.offer(admin, available_from=TODAY, available_to=TODAY + timedelta(days=10))
    late = make.offer(admin, available_from=TODAY + timedelta(days=30),
                      available_to=TODAY + timedelta(days=60))
    assert found(client, officer_headers, {"available_from": day(20), "available_to": day(40)}
                 ) == {str(late.id)}
    assert found(client, officer_headers, {"available_from": day(5), "available_to": day(35)}
                 ) == {str(early.id), str(late.id)}
    assert found(client, officer_headers, {"available_to": day(5)}) == {str(early.id)}
    assert found(client, officer_headers, {"available_from": day(11)}) == {str(late.id)}
    assert found(client, officer_headers, {"available_from": day(61)}) == set()
    # an offer ending on the first day asked for still overlaps
    assert found(client, officer_headers, {"available_from": day(10), "available_to": day(10)}
                 ) == {str(early.id)}


def test_search_by_words_in_the_title(client, make, officer_headers):
    _, admin = make.organisation()
    marketing = make.offer(admin, title="Pelatih Pemasaran Digital")
    make.offer(admin, title="Aula serbaguna")
    percent = make.offer(admin, title="Diskon 50% modul keuangan")
    assert found(client, officer_headers, {"q": "pemasaran"}) == {str(marketing.id)}
    assert found(client, officer_headers, {"q": "50%"}) == {str(percent.id)}
    assert found(client, officer_headers, {"q": "5_%"}) == set()


def test_search_results_are_paginated(client, make, officer_headers):
    _, admin = make.organisation()
    created = [make.offer(admin, title=f"Pelatih nomor {n}") for n in range(5)]
    first = client.get("/api/v1/offers?page_size=2", headers=officer_headers)
    meta = pagination(first)
    assert meta["total"] == 5 and meta["total_pages"] == 3
    assert len(first.json) == 2
    pages = [first.json] + [client.get(f"/api/v1/offers?page_size=2&page={page}",
                                       headers=officer_headers).json for page in (2, 3)]
    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [o["id"] for page in pages for o in page]
    assert sorted(seen) == sorted(str(o.id) for o in created)
    # newest first
    assert seen[0] == str(created[-1].id)
    filtered = client.get("/api/v1/offers?q=nomor%203", headers=officer_headers)
    assert pagination(filtered)["total"] == 1
    too_big = client.get("/api/v1/offers?page_size=1000", headers=officer_headers)
    assert too_big.status_code == 422


# --- idempotent creates -------------------------------------------------------------------

def test_a_retried_create_with_the_same_idempotency_key_makes_one_offer(client, app, partner):
    _, _, headers = partner
    keyed = {**headers, "Idempotency-Key": "offer-create-1"}
    first = client.post("/api/v1/offers", json=offer_body(), headers=keyed)
    second = client.post("/api/v1/offers", json=offer_body(), headers=keyed)
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_rows(app, Offer) == 1
    assert len(audit_entries(app, action="offer.created")) == 1
    different = client.post("/api/v1/offers", json=offer_body(capacity=13), headers=keyed)
    assert different.status_code == 422
    assert different.json["type"].endswith("idempotency-key-reused")
    assert count_rows(app, Offer) == 1
    another_key = client.post("/api/v1/offers", json=offer_body(),
                              headers={**headers, "Idempotency-Key": "offer-create-2"})
    assert another_key.status_code == 201 and another_key.json["id"] != first.json["id"]
    assert count_rows(app, Offer) == 2


def test_a_failed_create_can_be_retried_with_the_same_key(client, app, partner):
    _, _, headers = partner
    keyed = {**headers, "Idempotency-Key": "offer-create-fix"}
    bad = client.post("/api/v1/offers", json=offer_body(capacity=0), headers=keyed)
    assert bad.status_code == 422
    fixed = client.post("/api/v1/offers", json=offer_body(), headers=keyed)
    assert fixed.status_code == 201
    assert count_rows(app, Offer) == 1


def test_idempotency_keys_belong_to_their_caller(client, app, make, partner):
    _, _, headers = partner
    _, other_admin = make.organisation()
    body = offer_body()
    mine = client.post("/api/v1/offers", json=body, headers={**headers, "Idempotency-Key": "k"})
    theirs = client.post("/api/v1/offers", json=body,
                         headers={**bearer(make.token(other_admin)), "Idempotency-Key": "k"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["id"] != theirs.json["id"]
    assert theirs.json["organisation_id"] != mine.json["organisation_id"]
    assert count_rows(app, Offer) == 2


def test_partners_are_warned_once_when_an_offer_is_about_to_end(app, make):
    from datetime import timedelta

    from services.partners.models import db
    from services.partners.operations.offers import warn_expiring
    from shared.audit import Actor

    _, admin = make.organisation()
    ending = make.offer(admin, available_to=TODAY + timedelta(days=3))
    make.offer(admin, available_to=TODAY + timedelta(days=60))  # not yet
    make.offer(admin, status="draft", available_to=TODAY + timedelta(days=2))  # not live
    beat = Actor(id="system:beat", role="system", kind="service")
    with app.app_context():
        assert warn_expiring(db.session, beat, TODAY, 7) == 1
        db.session.commit()
        assert warn_expiring(db.session, beat, TODAY, 7) == 0  # once per offer
        db.session.commit()
    [event] = outbox_events(app, "offer.expiring")
    assert event.payload["offer_id"] == str(ending.id)
    assert event.payload["available_to"] == (TODAY + timedelta(days=3)).isoformat()
    assert audit_entries(app, action="offer.expiry_warned", object_id=ending.id)
