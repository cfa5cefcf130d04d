"""GET /api/v1/deliveries: who sees which confirmed deliveries, with what they were for."""
from __future__ import annotations

from tests.matching.conftest import World
from tests.matching.test_decisions import approve, one_proposal
from tests.partners.conftest import bearer

PADURENAN = "32.75.11.1001"  # another kelurahan of Kecamatan Mustikajaya


def _delivered(world: World) -> tuple[dict, dict]:
    offer, the_need, only = one_proposal(world)
    assert approve(world, only["id"]).json["status"] == "approved"
    response = world.client.post(f"/api/v1/proposals/{only['id']}/delivery", json={
        "delivered_quantity": 4, "rating": 5, "notes": "Materi bagus",
        "facilitator_notes": "Fasilitator sigap"}, headers=world.coordinator_h)
    assert response.status_code == 201, response.json
    return the_need, only


def test_the_partner_coordinator_and_dp3a_see_the_delivery_with_its_need_and_offer(world):
    the_need, only = _delivered(world)
    for headers in (world.company_h, world.coordinator_h, world.officer_h):
        response = world.client.get("/api/v1/deliveries", headers=headers)
        assert response.status_code == 200, response.json
        [delivery] = response.json
        assert delivery["proposal_id"] == only["id"]
        assert delivery["need_title"] == the_need["title"]
        assert delivery["need_region"] == the_need["region"]
        assert delivery["offer_title"] == only["offer_title"]
        assert (delivery["unit"], delivery["approved_quantity"]) == ("sessions", 4)
        assert (delivery["delivered_quantity"], delivery["rating"]) == (4, 5)
        assert delivery["facilitator_notes"] == "Fasilitator sigap"
        assert "X-Pagination" in response.headers


def test_other_partners_and_coordinators_of_other_regions_see_none(world):
    _delivered(world)
    _, stranger = world.make.organisation()
    elsewhere = world.make.user("coordinator", region_codes=[PADURENAN])
    for person in (stranger, elsewhere):
        response = world.client.get("/api/v1/deliveries",
                                    headers=bearer(world.make.token(person)))
        assert response.status_code == 200 and response.json == []


def test_deliveries_need_a_person_and_valid_filters(world):
    assert world.client.get("/api/v1/deliveries").status_code == 401
    response = world.client.get("/api/v1/deliveries?organisation_id=nope",
                                headers=world.officer_h)
    assert response.status_code == 422
    assert "organisation_id" in response.json["errors"]
