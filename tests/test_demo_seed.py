"""The demo `make run` seeds: last semester's history is there for the dashboard, and the
partners and matching databases tell the same story (same organisations, offers, capacity)."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from services import demo_history
from services.matching import MIGRATIONS as MATCHING_MIGRATIONS
from services.matching import seed as matching_seed
from services.matching.models import Proposal
from services.matching.models import db as matching_db
from services.matching.operations import reports
from services.partners import MIGRATIONS as PARTNERS_MIGRATIONS
from services.partners import seed as partners_seed
from services.partners.models import CapacityEntry, Offer, Organisation
from services.partners.models import db as partners_db
from shared.clock import today_wib
from shared.migrations import upgrade


def _seed(database, seed_module, url: str) -> tuple[list[str], sa.Engine]:
    """Run a service's seed on `url`, in an app context that knows the service's models."""
    app = Flask(__name__)
    app.extensions["mitra_db"] = database  # audit entries and events use its models
    engine = sa.create_engine(url)
    with app.app_context(), Session(engine) as session:
        lines = seed_module.seed(session)
    return lines, engine


@pytest.fixture(scope="module")
def seeded(make_database):
    partners_url = make_database("demo_partners")
    matching_url = make_database("demo_matching")
    upgrade(PARTNERS_MIGRATIONS, partners_url)
    upgrade(MATCHING_MIGRATIONS, matching_url)
    _, partners_engine = _seed(partners_db, partners_seed, partners_url)
    _, matching_engine = _seed(matching_db, matching_seed, matching_url)
    yield partners_engine, matching_engine, (partners_url, matching_url)
    partners_engine.dispose()
    matching_engine.dispose()


def test_the_dashboard_has_last_semesters_story(seeded):
    _, matching_engine, _ = seeded
    today = today_wib()
    with Session(matching_engine) as session:
        report = reports.collaboration(session, today - timedelta(days=365), today, "32.75")
    kelurahan = {row["region"] for row in report["coverage_per_kelurahan"]}
    assert len(kelurahan) >= 10  # the demo's Mustikasari plus last semester's dozen
    kinds = {row["partner_kind"]: row["matches"] for row in report["delivered_by_partner_kind"]}
    assert kinds == {"company": 6, "university": 3}
    sources = {row["organisation"]: row["amount_idr"]
               for row in report["rupiah_committed_by_source"]}
    assert sources == {demo_history.NIAGA: 35_000_000, demo_history.ENERGI: 10_000_000}
    unmet = {row["topic"] for row in report["unmet_by_topic"]}
    assert {"pencegahan_kdrt", "parenting", "sarana_prasarana"} <= unmet
    assert report["median_days_to_approval"] is not None
    assert {row["organisation"] for row in report["ratings"]} == {
        demo_history.NIAGA, demo_history.ENERGI, demo_history.UNIVERSITAS}


def test_proposals_point_at_the_partners_organisations_and_offers(seeded):
    partners_engine, matching_engine, _ = seeded
    with Session(matching_engine) as session:
        fulfilled = list(session.scalars(sa.select(Proposal).where(
            Proposal.status == "fulfilled")))
    with Session(partners_engine) as session:
        names = dict(session.execute(sa.select(Organisation.id, Organisation.name)).all())
        offers = {o.id: o for o in session.scalars(sa.select(Offer))}
        ledger = list(session.scalars(sa.select(CapacityEntry)))
    assert len(fulfilled) == 9
    for proposal in fulfilled:
        assert names[proposal.organisation_id] == proposal.organisation_name
        assert offers[proposal.offer_id].organisation_id == proposal.organisation_id
        assert proposal.explanation["score"]["components"]  # the engine's own explanation
    # Each delivered match committed exactly its quantity at partners, under its proposal id.
    committed = defaultdict(int)
    for entry in ledger:
        assert entry.state == "committed"
        committed[entry.offer_id] += entry.quantity
    assert {e.reference for e in ledger} == {str(p.id) for p in fulfilled}
    for offer_id, quantity in committed.items():
        assert offers[offer_id].committed == quantity <= offers[offer_id].capacity
        assert offers[offer_id].status == "expired"


def test_seeding_again_changes_nothing(seeded):
    partners_engine, matching_engine, (partners_url, matching_url) = seeded

    def counts() -> tuple[int, int]:
        with Session(partners_engine) as p, Session(matching_engine) as m:
            return (p.scalar(sa.select(sa.func.count()).select_from(Offer)),
                    m.scalar(sa.select(sa.func.count()).select_from(Proposal)))

    before = counts()
    lines, engine = _seed(matching_db, matching_seed, matching_url)
    engine.dispose()
    assert lines == ["matching: demo already seeded"]
    _, engine = _seed(partners_db, partners_seed, partners_url)
    engine.dispose()
    assert counts() == before
