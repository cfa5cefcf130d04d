"""Match runs on the real Celery worker: empty runs, overlap, cancellation, failure, order,
weights, progress and the event announcing the result."""
from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from services.matching.clients import PartnersClient
from services.matching.engine import Weights
from services.matching.models import MatchRun, RunNeed
from services.matching.models import db as matching_db
from services.matching.operations import runs
from services.matching.tasks import run_match
from shared.audit import Actor
from shared.errors import PROBLEM_MIME
from shared.http_client import ServiceUnavailable
from tests.conftest import SERVICE_SECRET
from tests.matching.conftest import World, matching_outbox
from tests.matching.test_api_validation import fingerprint
from tests.partners.conftest import bearer

PHASES = {"fetching_offers", "scoring", "solving", "saving"}


def officer_actor(world: World) -> Actor:
    return Actor(id=str(world.officer.id), role="dp3a_officer",
                 organisation_id=str(world.officer.organisation_id))


def queued_run(world: World, matching_app: Flask, **scope: Any) -> str:
    """A run requested and committed, but never handed to a worker: it stays queued."""
    with matching_app.app_context():
        run = runs.request_run(matching_db.session, officer_actor(world), scope, {})
        matching_db.session.commit()
        return str(run.id)


def get_run(world: World, run_id: str) -> dict[str, Any]:
    response = world.client.get(f"/api/v1/match-runs/{run_id}", headers=world.officer_h)
    assert response.status_code == 200, response.json
    return response.json


def wait_for(world: World, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = get_run(world, run_id)
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_run_with_nothing_to_match_succeeds_with_no_proposals(world):
    run = world.run()
    assert run["status"] == "succeeded" and run["error"] is None
    assert (run["stats"]["needs"], run["stats"]["proposals"]) == (0, 0)
    assert world.proposals() == []

    # A need no offer can serve: still a success, still nothing proposed, the need still open.
    programme = world.programme()
    need = world.need(programme["id"])
    run = world.run()
    assert run["status"] == "succeeded"
    assert (run["stats"]["needs"], run["stats"]["offers"], run["stats"]["candidate_edges"]) == (
        1, 0, 0)
    assert world.proposals() == []
    assert world.client.get(f"/api/v1/needs/{need['id']}",
                            headers=world.officer_h).json["status"] == "open"


def test_two_runs_never_overlap_on_the_same_needs(world, matching_app):
    world.offer(capacity=10)
    programme = world.programme()
    world.need(programme["id"])
    holding = queued_run(world, matching_app)
    assert get_run(world, holding)["status"] == "queued"

    before = fingerprint()
    for scope in ({}, {"programme_id": programme["id"]}, {"kinds": ["trainer"]}):
        response = world.client.post("/api/v1/match-runs", json=scope, headers=world.officer_h)
        assert response.status_code == 409, response.json
        assert response.content_type == PROBLEM_MIME
        assert response.json["type"].endswith("/run-overlap")
        assert "cancel" in response.json["detail"]
    assert fingerprint() == before
    # A run over other needs is not held up.
    other = world.run(kinds=["funding"])
    assert other["status"] == "succeeded" and other["stats"]["needs"] == 0

    response = world.client.post(f"/api/v1/match-runs/{holding}/cancel", headers=world.officer_h)
    assert response.status_code == 200, response.json
    cancelled = response.json
    assert cancelled["status"] == "cancelled" and cancelled["error"]
    assert cancelled["finished_at"]
    again = world.client.post(f"/api/v1/match-runs/{holding}/cancel", headers=world.officer_h)
    assert again.status_code == 409 and again.json["type"].endswith("/illegal-transition")

    # Should the cancelled run reach a worker after all, the worker leaves it alone...
    with world.client.application.app_context():  # sent through matching's Celery app
        run_match.delay(holding)
    # ...and the needs it held are free: a new run is accepted and does the work. (The worker
    # takes one message at a time, in order, so once this run is done the stray one is too.)
    run = world.run()
    assert run["status"] == "succeeded" and run["stats"]["needs"] == 1
    assert [p["run_id"] for p in world.proposals()] == [run["id"]]
    assert get_run(world, holding)["status"] == "cancelled"
    assert world.proposals(run_id=holding) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("how", ["partners-down", "partners-refuses"])
def test_a_failed_run_says_why_and_leaves_earlier_proposals_as_they_were(world, matching_app,
                                                                         live_server, how):
    offer = world.offer(capacity=10)
    programme = world.programme()
    world.need(programme["id"], title="Pelatih kelas pagi", quantity=3)
    second = world.need(programme["id"], title="Pelatih kelas sore", quantity=3)
    first_run = world.run()
    proposals = world.proposals()
    assert len(proposals) == 2
    approved = next(p for p in proposals if p["need_id"] != second["id"])
    assert world.client.post(f"/api/v1/proposals/{approved['id']}/approve",
                             headers=world.officer_h).json["status"] == "approved"
    proposals_before = world.proposals()
    needs_before = world.client.get("/api/v1/needs", headers=world.officer_h).json

    run_id = queued_run(world, matching_app)
    if how == "partners-down":
        client = PartnersClient(f"http://127.0.0.1:{closed_port()}", "matching", SERVICE_SECRET,
                                timeout=2)
        expected: type[Exception] = ServiceUnavailable
    else:  # partners answers, but refuses a wrong service secret
        client = PartnersClient(live_server, "matching", "not-the-secret", timeout=5)
        expected = requests.HTTPError
    with matching_app.app_context(), pytest.raises(expected) as failure:
        runs.execute(matching_db.session_factory, uuid.UUID(run_id), client.active_offers)

    run = get_run(world, run_id)
    assert run["status"] == "failed"
    assert run["error"].startswith(type(failure.value).__name__)
    assert ("ConnectionError" if how == "partners-down" else "401") in run["error"]
    assert run["finished_at"]
    assert world.proposals() == proposals_before
    assert world.client.get("/api/v1/needs", headers=world.officer_h).json == needs_before
    assert capacity_reserved(world, offer.id) == 3
    [event] = [e for e in matching_outbox("match_run.finished")
               if e.payload["run_id"] == run_id]
    assert event.payload["status"] == "failed" and event.payload["error"] == run["error"]
    assert event.payload["requested_by"] == str(world.officer.id)
    with matching_db.session_factory() as session:
        assert not session.scalar(sa.select(sa.func.count()).select_from(RunNeed).where(
            RunNeed.run_id == uuid.UUID(run_id), RunNeed.active))

    # The needs it held are free again, and the next run works.
    run = world.run()
    assert run["status"] == "succeeded", run
    statuses = {p["id"]: p["status"] for p in world.proposals()}
    assert statuses[approved["id"]] == "approved"
    assert first_run["id"] != run["id"]


def capacity_reserved(world: World, offer_id: Any) -> int:
    response = world.make.app.test_client().get(
        f"/api/v1/offers/{offer_id}/capacity", headers=bearer(world.make.service_token()))
    return response.json["reserved"]


def test_runs_are_listed_newest_first(world):
    ids = [world.run()["id"] for _ in range(3)]
    response = world.client.get("/api/v1/match-runs", headers=world.officer_h)
    assert response.status_code == 200
    assert [r["id"] for r in response.json] == list(reversed(ids))
    assert "X-Pagination" in response.headers
    page = world.client.get("/api/v1/match-runs", query_string={"page_size": 2},
                            headers=world.officer_h).json
    assert [r["id"] for r in page] == list(reversed(ids))[:2]


def test_a_run_records_the_weights_it_used(world):
    defaults = Weights().as_dict()
    plain = world.run()
    assert plain["weights"] == defaults

    override = {"proximity": 5.0, "track_record": 0.0}
    response = world.client.post("/api/v1/match-runs", json={"weights": override},
                                 headers=world.officer_h)
    assert response.status_code == 202
    assert response.json["weights"] == {**defaults, **override}
    run = wait_for(world, response.json["id"])
    assert run["status"] == "succeeded"
    assert run["weights"] == {**defaults, **override}
    assert run["stats"]["weights"] == {**defaults, **override}  # what the engine used


def test_a_run_shows_its_progress_by_phase_and_its_figures(world):
    offer = world.offer(capacity=10)
    programme = world.programme()
    world.need(programme["id"])
    response = world.client.post("/api/v1/match-runs", json={}, headers=world.officer_h)
    assert response.status_code == 202
    assert response.headers["Location"].endswith(f"/api/v1/match-runs/{response.json['id']}")
    assert response.json["status"] in ("queued", "running")
    run = wait_for(world, response.json["id"])

    assert run["status"] == "succeeded"
    assert (run["phase"], run["progress"]) == ("saving", 1.0)
    assert run["phases"] == {phase: 1.0 for phase in PHASES}
    stats = run["stats"]
    assert (stats["needs"], stats["offers"], stats["candidate_edges"], stats["proposals"]) == (
        1, 1, 1, 1)
    assert stats["demand_covered"] == {"trainer/sessions": 4}
    assert stats["objective"]["priority_weighted_coverage"] == {"trainer/sessions": 4 * 4}
    seconds = stats["seconds"]
    assert {"fetching_offers", "saving"} <= set(seconds)
    assert all(isinstance(v, (int, float)) and v >= 0 for v in seconds.values())
    assert run["started_at"] <= run["finished_at"]
    assert run["requested_by"] == str(world.officer.id)
    [only] = world.proposals(run_id=run["id"])
    assert only["offer_id"] == str(offer.id)


def test_the_outbox_announces_the_finished_run_to_the_officer_who_asked(world):
    world.offer(capacity=10)
    programme = world.programme()
    world.need(programme["id"])
    run = world.run()
    [event] = matching_outbox("match_run.finished")
    assert event.aggregate_id == run["id"]
    assert event.payload == {**event.payload, "run_id": run["id"], "status": "succeeded",
                             "requested_by": str(world.officer.id), "proposals": 1, "needs": 1}
    with matching_db.session_factory() as session:
        assert session.get(MatchRun, uuid.UUID(run["id"])).finished_at is not None


def test_a_finished_run_cannot_be_cancelled(world):
    run = world.run()
    before = fingerprint()
    response = world.client.post(f"/api/v1/match-runs/{run['id']}/cancel",
                                 headers=world.officer_h)
    assert response.status_code == 409 and response.content_type == PROBLEM_MIME
    assert response.json["current_status"] == "succeeded"
    assert fingerprint() == before
