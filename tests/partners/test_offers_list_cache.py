"""The offers list keeps its answers between writes (shared/read_cache.py): whoever lists
offers again after a change sees the change at once, and nobody sees answers meant for another
caller."""
from __future__ import annotations

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from services.partners.api.offers import OFFERS_LIST
from services.partners.models import Offer, db
from tests.partners.conftest import bearer

QUERY = "/api/v1/offers?kind=trainer&topic=pemasaran_digital&page_size=50"


def listed(client, headers, query: str = QUERY) -> dict[str, dict]:
    response = client.get(query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {offer["id"]: offer for offer in response.get_json()}


@pytest.fixture
def officer(make):
    return bearer(make.token(make.user("dp3a_officer")))


def test_an_offer_submitted_after_a_list_is_in_the_next_list(client, make, officer):
    _, admin = make.organisation()
    first = make.offer(admin)
    assert set(listed(client, officer)) == {str(first.id)}
    second = make.offer(admin, status="draft")
    headers = bearer(make.token(admin))
    assert client.post(f"/api/v1/offers/{second.id}/submit", headers=headers).status_code == 200
    assert set(listed(client, officer)) == {str(first.id), str(second.id)}


def test_remaining_capacity_in_the_list_follows_reservations(client, make, officer):
    _, admin = make.organisation()
    offer = make.offer(admin, capacity=10)
    assert listed(client, officer)[str(offer.id)]["remaining"] == 10
    ledger = bearer(make.service_token())
    reserved = client.post(f"/api/v1/offers/{offer.id}/reservations", headers=ledger,
                           json={"reference": "proposal-1", "quantity": 4})
    assert reserved.status_code == 201
    assert listed(client, officer)[str(offer.id)]["remaining"] == 6
    client.post(f"/api/v1/offers/{offer.id}/reservations/proposal-1/release", headers=ledger)
    assert listed(client, officer)[str(offer.id)]["remaining"] == 10


def test_a_withdrawn_offer_leaves_the_coordinators_list(client, make):
    _, admin = make.organisation()
    offer = make.offer(admin)
    coordinator = bearer(make.token(make.user("coordinator")))
    assert str(offer.id) in listed(client, coordinator)
    response = client.post(f"/api/v1/offers/{offer.id}/withdraw", headers=bearer(make.token(admin)))
    assert response.status_code == 200
    assert str(offer.id) not in listed(client, coordinator)


def test_a_renamed_organisation_shows_its_new_name(client, make, officer):
    organisation, admin = make.organisation()
    offer = make.offer(admin)
    assert listed(client, officer)[str(offer.id)]["organisation_name"] == organisation.name
    response = client.patch(f"/api/v1/organisations/{organisation.id}",
                            headers={**bearer(make.token(admin)), "If-Match": _etag(
                                client, organisation.id, admin, make)},
                            json={"name": "PT Nama Baru (fiktif)"})
    assert response.status_code == 200, response.get_json()
    assert listed(client, officer)[str(offer.id)]["organisation_name"] == "PT Nama Baru (fiktif)"


def _etag(client, organisation_id, admin, make) -> str:
    return client.get(f"/api/v1/organisations/{organisation_id}",
                      headers=bearer(make.token(admin))).headers["ETag"]


def test_partners_never_get_each_others_kept_answers(client, make):
    _, admin_a = make.organisation()
    _, admin_b = make.organisation()
    offer_a = make.offer(admin_a, status="draft")
    offer_b = make.offer(admin_b, status="draft")
    assert set(listed(client, bearer(make.token(admin_a)))) == {str(offer_a.id)}
    assert set(listed(client, bearer(make.token(admin_b)))) == {str(offer_b.id)}


def test_pages_and_their_totals_are_kept_apart(client, make, officer):
    _, admin = make.organisation()
    for _ in range(3):
        make.offer(admin)
    first = client.get("/api/v1/offers?page_size=2", headers=officer)
    second = client.get("/api/v1/offers?page_size=2&page=2", headers=officer)
    assert len(first.get_json()) == 2 and len(second.get_json()) == 1
    assert first.headers["X-Pagination"] == client.get(
        "/api/v1/offers?page_size=2", headers=officer).headers["X-Pagination"]
    assert '"total": 3' in first.headers["X-Pagination"]


def test_a_write_around_the_service_shows_once_invalidated(app: Flask, client, make, officer):
    _, admin = make.organisation()
    offer = make.offer(admin)
    assert listed(client, officer)[str(offer.id)]["title"] == "Pelatih pemasaran digital"
    with db.engine.begin() as connection:  # e.g. maintenance in psql: the service cannot see it
        connection.execute(sa.update(Offer.__table__).where(Offer.id == offer.id)
                           .values(title="Judul dari psql"))
    OFFERS_LIST.invalidate(app)
    assert listed(client, officer)[str(offer.id)]["title"] == "Judul dari psql"


def test_bad_filters_are_still_refused(client, officer):
    assert client.get("/api/v1/offers?kind=rocket", headers=officer).status_code == 422
    assert client.get("/api/v1/offers?kind=rocket", headers=officer).status_code == 422


def test_while_redis_is_away_the_list_reads_the_database(app: Flask, client, make, officer,
                                                         monkeypatch):
    kept = app.extensions["mitra_read_cache_offers-list"]
    nobody = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
    monkeypatch.setattr(kept.generation, "client", nobody)
    _, admin = make.organisation()
    first = make.offer(admin)
    assert set(listed(client, officer)) == {str(first.id)}
    second = make.offer(admin)  # its bump cannot reach Redis either
    assert set(listed(client, officer)) == {str(first.id), str(second.id)}
