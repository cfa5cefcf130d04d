"""DP3A reads matching's audit log (GET /api/v1/audit-log): every change to programmes,
needs, runs and proposals, filtered by object, actor, action and time, newest first."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.matching.conftest import World

URL = "/api/v1/audit-log"


def read(world: World, headers=None, **query) -> list[dict]:
    response = world.client.get(URL, query_string=query, headers=headers or world.officer_h)
    assert response.status_code == 200, response.json
    return response.json


def test_dp3a_follows_a_need_from_posting_to_approval(world):
    world.offer()
    programme = world.programme()
    need = world.need(programme["id"])
    run = world.run()
    [proposal] = world.proposals(run_id=run["id"])
    world.client.post(f"/api/v1/proposals/{proposal['id']}/approve", headers=world.officer_h)

    assert [e["action"] for e in read(world)][-2:] == ["need.created", "programme.created"]
    history = read(world, object_type="need", object_id=need["id"])
    assert history and history[-1]["action"] == "need.created"
    assert history[-1]["actor_id"] == str(world.coordinator.id)
    assert history[-1]["actor_role"] == "coordinator"
    assert all(e["object_id"] == need["id"] for e in history)

    decided = read(world, object_type="proposal", object_id=proposal["id"])
    assert [e["action"] for e in decided][0] == "proposal.approved"
    assert decided[0]["actor_id"] == str(world.officer.id)
    assert decided[0]["before"]["status"] == "proposed"
    assert decided[0]["after"]["status"] == "approved"

    by_officer = read(world, actor_id=str(world.officer.id))
    assert {"programme.created", "match_run.requested", "proposal.approved"} <= {
        e["action"] for e in by_officer}
    times = [e["occurred_at"] for e in read(world)]
    assert times == sorted(times, reverse=True)
    runs = read(world, action="match_run.requested")
    assert [e["object_id"] for e in runs] == [run["id"]]


def test_filters_by_time_and_paging(world):
    programme = world.programme()
    for number in range(3):
        world.need(programme["id"], title=f"Pelatih ke-{number}")
    now = datetime.now(timezone.utc)
    assert len(read(world, since=(now - timedelta(minutes=5)).isoformat())) >= 4
    assert read(world, until=(now - timedelta(minutes=5)).isoformat()) == []
    page = world.client.get(URL, query_string={"page_size": 2, "action": "need.created"},
                            headers=world.officer_h)
    assert len(page.json) == 2
    assert "X-Pagination" in page.headers


def test_only_dp3a_reads_it_and_bad_filters_are_refused(world):
    assert world.client.get(URL, headers=world.coordinator_h).status_code == 403
    assert world.client.get(URL, headers=world.company_h).status_code == 403
    assert world.client.get(URL).status_code == 401
    response = world.client.get(URL, query_string={"since": "yesterday"},
                                headers=world.officer_h)
    assert response.status_code == 422 and "since" in response.json["errors"]
    response = world.client.get(URL, query_string={"action": "x" * 81},
                                headers=world.officer_h)
    assert response.status_code == 422 and "action" in response.json["errors"]
