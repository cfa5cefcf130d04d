"""The Kota Bekasi demo: Sekoper Cinta Mustikasari 2027 and what its class needs."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.models import Programme
from services.matching.operations import needs, programmes
from shared.audit import Actor
from shared.clock import today_wib

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
    session.commit()
    return [f"matching: demo programme {programme.name} with {len(NEEDS)} needs"]
