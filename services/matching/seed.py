"""The Kota Bekasi demo: Sekoper Cinta Mustikasari 2027 and what its class needs."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import demo_history
from services.matching.engine import Offer as EngineOffer
from services.matching.engine import Organisation as EngineOrganisation
from services.matching.engine import match
from services.matching.models import Delivery, MatchRun, Need, Programme, Proposal
from services.matching.operations import needs, programmes
from services.matching.operations.runs import engine_need
from shared import audit
from shared.audit import Actor
from shared.clock import WIB, today_wib

SYSTEM = Actor(id="system:seed", role="dp3a_admin", kind="service")
MUSTIKASARI = "32.75.11.1004"

NEEDS = [
    {"kind": "trainer", "title": "Pelatih pemasaran digital untuk kelas UMKM",
     "topics": ["pemasaran_digital", "kewirausahaan"], "quantity": 6, "unit": "sessions",
     "priority": 5},
    {"kind": "module", "title": "Modul manajemen keuangan rumah tangga",
     "topics": ["manajemen_keuangan"], "quantity": 4, "unit": "sessions", "priority": 4},
    {"kind": "funding", "title": "Insentif fasilitator semester 1",
     "topics": ["insentif_fasilitator"], "quantity": 20_000_000, "unit": "rupiah",
     "priority": 4},
    {"kind": "trainer", "title": "Pelatihan fasilitator", "topics": ["pelatihan_fasilitator"],
     "quantity": 2, "unit": "sessions", "priority": 3},
    {"kind": "facility", "title": "Ruang kelas dengan proyektor", "topics": ["sarana_prasarana"],
     "quantity": 1, "unit": "units", "priority": 2, "accepted_modes": ["onsite"]},
]


def seed(session: Session) -> list[str]:
    """Create the demo programme and its needs once."""
    if session.scalar(select(Programme.id).limit(1)) is not None:
        return ["matching: demo already seeded"]
    start = today_wib()
    programme = programmes.create(session, SYSTEM, {
        "name": f"Sekoper Cinta Kelurahan Mustikasari {start.year + 1}", "region": MUSTIKASARI,
        "period_start": start, "period_end": start + timedelta(days=330), "cohort_size": 100,
        "description": "Kelas sekolah perempuan Kelurahan Mustikasari, Kecamatan Mustikajaya."})
    # The demo's topics are in the vocabulary partners seeds with its schema (partners is not
    # running while `make run` seeds, so it cannot be asked).
    vocabulary = frozenset(topic for item in NEEDS for topic in item["topics"])
    for item in NEEDS:
        needs.create(session, SYSTEM, {
            "programme_id": programme.id, "description": "", "region": MUSTIKASARI,
            "window_start": start, "window_end": start + timedelta(days=180),
            "accepted_modes": ["onsite", "online", "hybrid"], "single_offer": False,
            "excluded_organisations": [], **item}, vocabulary)
    delivered = _seed_past_semester(session)
    session.commit()
    return [f"matching: demo programme {programme.name} with {len(NEEDS)} needs; last "
            f"semester's {len(demo_history.PAST_NEEDS)} needs, {delivered} delivered"]


PARTNER_KINDS = {demo_history.NIAGA: "company", demo_history.ENERGI: "company",
                 demo_history.UNIVERSITAS: "university"}
NOTES = {5: "Materi sangat membantu peserta.", 4: "Berjalan baik, jadwal sempat bergeser.",
         3: "Cukup, peserta butuh pendampingan lanjutan."}


def _seed_past_semester(session: Session) -> int:
    """Last semester across Kota Bekasi (services/demo_history.py): needs in a dozen
    kelurahan, most delivered and rated, a few still unmet. Each proposal carries the
    explanation the engine gives for its need and offer."""
    today = today_wib()
    programme = Programme(
        id=demo_history.demo_id("programme:2026-2"),
        name="Sekoper Cinta Kota Bekasi, semester lalu", region="32.75",
        period_start=today - timedelta(days=200), period_end=today - timedelta(days=1),
        cohort_size=600, created_by=SYSTEM.id,
        created_at=datetime.combine(today - timedelta(days=200), time(9), WIB),
        description="Kelas sekolah perempuan di dua belas kelurahan (data demo).")
    session.add(programme)
    offer_from, offer_to = demo_history.offer_window(today)
    delivered = 0
    for past in demo_history.PAST_NEEDS:
        when = demo_history.timeline(past, today)
        need = Need(
            id=past.id, programme_id=programme.id, kind=past.kind, title=past.title,
            description="", topics=list(past.topics), quantity=past.quantity, unit=past.unit,
            window_start=when.window_start, window_end=when.window_end, region=past.region,
            priority=3, accepted_modes=["onsite", "online", "hybrid"], single_offer=False,
            excluded_organisations=[], status="fulfilled" if past.offer else "open",
            covered=0, created_by=SYSTEM.id,
            created_at=when.created, updated_at=when.delivered if past.offer else when.created,
            # its window has passed: the coordinator was asked for feedback back then
            feedback_requested_at=datetime.combine(when.window_end, time(18), WIB))
        session.add(need)
        if past.offer is None:
            continue
        offer = demo_history.offer(past.offer)
        engine_offer = EngineOffer(
            id=str(offer.id), kind=offer.kind, topics=offer.topics, remaining=offer.capacity,
            unit=offer.unit, available_from=offer_from, available_to=offer_to,
            mode=offer.mode, delivery_regions=offer.delivery_regions, title=offer.title,
            organisation=EngineOrganisation(
                id=str(demo_history.organisation_id(offer.partner)),
                kind=PARTNER_KINDS[offer.partner], name=offer.partner))
        result = match([engine_need(need)], [engine_offer])
        need.covered = past.quantity
        if not result.proposals:
            raise RuntimeError(f"demo history: the engine does not match {past.key} with "
                               f"{offer.key}; fix services/demo_history.py")
        proposed = result.proposals[0]
        run = MatchRun(
            id=demo_history.demo_id(f"run:{past.key}"), status="succeeded",
            scope={"programme_id": str(programme.id), "region": past.region, "kinds": []},
            weights=dict(result.stats.get("weights") or {}), phase="saving", progress=1.0,
            phases={}, stats={"proposals": 1}, requested_by="system:seed",
            created_at=when.approved - timedelta(days=1),
            started_at=when.approved - timedelta(days=1),
            finished_at=when.approved - timedelta(days=1))
        session.add(run)
        session.add(Proposal(
            id=past.proposal_id, run_id=run.id, need_id=need.id, offer_id=offer.id,
            organisation_id=demo_history.organisation_id(offer.partner),
            organisation_name=offer.partner, organisation_kind=PARTNER_KINDS[offer.partner],
            offer_title=offer.title, quantity=past.quantity, unit=past.unit,
            score=min(1.0, max(0.0, float(proposed.score))), explanation=proposed.explanation,
            status="fulfilled", created_at=run.finished_at, decided_by="system:seed",
            approved_at=when.approved, accepted_at=when.accepted, fulfilled_at=when.delivered))
        session.flush()  # the delivery refers to it (no relationship orders the inserts)
        session.add(Delivery(
            proposal_id=past.proposal_id,
            organisation_id=demo_history.organisation_id(offer.partner),
            delivered_quantity=past.quantity, rating=past.rating,
            notes=NOTES.get(past.rating, ""), confirmed_by="system:seed",
            confirmed_at=when.delivered))
        delivered += 1
    session.flush()
    audit.record(session, SYSTEM, "programme.seeded", "programme", programme.id, None,
                 {"needs": len(demo_history.PAST_NEEDS), "delivered": delivered})
    return delivered
