"""The Kota Bekasi demo: DP3A, its staff, and clearly fictional partners with offers.

Demo accounts share one password, printed by `make run` and listed in the README; it exists
only in the demo seed."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import demo_history
from services.partners.models import (
    CapacityEntry,
    Offer,
    OfferRegion,
    OfferTopic,
    Organisation,
    User,
)
from services.partners.operations import offers, organisations
from services.partners.security import hash_password
from shared import audit, outbox
from shared.audit import Actor
from shared.clock import WIB, today_wib

DEMO_PASSWORD = "demo-bekasi-2027"
SYSTEM = Actor(id="system:seed", role="system", kind="service")
MUSTIKASARI = "32.75.11.1004"

PARTNERS = [
    {
        "kind": "company", "name": "PT Contoh Niaga Sejahtera (fiktif)", "nib": "9120000000001",
        "npwp": "0100000000000001", "sector": "Ritel", "address_region": "32.75.11.1004",
        "operating_regions": ["32.75.11", "32.75.03"], "contact_name": "Rina Contoh",
        "contact_email": "csr@contoh-niaga.example", "contact_phone": "+6281200000001",
        "admin": {"name": "Rina Contoh", "email": "csr@contoh-niaga.example"},
        "offers": [
            {"kind": "funding", "title": "Dana insentif fasilitator Sekoper Cinta",
             "description": "Dana CSR untuk insentif fasilitator sekolah perempuan di sekitar "
                            "lokasi usaha kami.",
             "topics": ["insentif_fasilitator"], "unit": "rupiah", "capacity": 50_000_000,
             "delivery_regions": ["32.75.11", "32.75.03"], "mode": "onsite"},
            {"kind": "trainer", "title": "Pelatih pemasaran digital untuk UMKM perempuan",
             "description": "Tim digital kami melatih pemasaran lewat media sosial dan "
                            "marketplace.",
             "topics": ["pemasaran_digital", "kewirausahaan"], "unit": "sessions",
             "capacity": 12, "delivery_regions": ["32.75"], "mode": "hybrid"},
        ],
    },
    {
        "kind": "company", "name": "PT Demo Energi Nusantara (fiktif)", "nib": "9120000000002",
        "npwp": "0100000000000002", "sector": "Energi", "address_region": "32.75.03.1001",
        "operating_regions": ["32.75.03"], "contact_name": "Budi Demo",
        "contact_email": "csr@demo-energi.example", "contact_phone": "+6281200000002",
        "admin": {"name": "Budi Demo", "email": "csr@demo-energi.example"},
        "offers": [
            {"kind": "facility", "title": "Ruang kelas dan proyektor",
             "description": "Aula kantor dengan proyektor untuk kelas sekolah perempuan.",
             "topics": ["sarana_prasarana"], "unit": "units", "capacity": 2,
             "delivery_regions": ["32.75.03"], "mode": "onsite"},
        ],
    },
    {
        "kind": "university", "name": "Universitas Contoh Bekasi (fiktif)",
        "pddikti_code": "049999", "sector": "Pendidikan tinggi",
        "address_region": "32.75.01.1001", "operating_regions": ["32.75"],
        "contact_name": "Dr. Sari Contoh", "contact_email": "lppm@univ-contoh.example",
        "contact_phone": "+6281200000003",
        "admin": {"name": "Dr. Sari Contoh", "email": "lppm@univ-contoh.example"},
        "offers": [
            {"kind": "module", "title": "Modul manajemen keuangan keluarga",
             "description": "Modul pengabdian masyarakat: pencatatan keuangan rumah tangga dan "
                            "usaha kecil.",
             "topics": ["manajemen_keuangan", "bahan_ajar"], "unit": "sessions", "capacity": 8,
             "delivery_regions": ["32.75"], "mode": "onsite"},
            {"kind": "trainer", "title": "Pelatihan fasilitator: metode andragogi",
             "description": "Dosen LPPM melatih fasilitator Sekoper Cinta.",
             "topics": ["pelatihan_fasilitator"], "unit": "sessions", "capacity": 4,
             "delivery_regions": ["32.75"], "mode": "online"},
        ],
    },
]

AGENCY_STAFF = [
    ("dp3a.admin@example.org", "Admin DP3A Kota Bekasi", "dp3a_admin", []),
    ("dp3a.officer@example.org", "Petugas DP3A Kota Bekasi", "dp3a_officer", []),
    ("koordinator.mustikasari@example.org", "Koordinator Mustikasari", "coordinator",
     [MUSTIKASARI]),
]


def seed(session: Session) -> list[str]:
    """Create the demo once; return the lines to print (logins)."""
    if session.scalar(select(Organisation).where(Organisation.is_agency.is_(True))) is None:
        _seed_agency(session)
        for partner in PARTNERS:
            _seed_partner(session, partner)
        _seed_past_offers(session)
        session.commit()
    logins = [email for email, *_ in AGENCY_STAFF] + [p["admin"]["email"] for p in PARTNERS]
    return ["Demo logins (password: %s):" % DEMO_PASSWORD] + [f"  {e}" for e in logins]


def _seed_agency(session: Session) -> None:
    agency = Organisation(
        kind="government", name="DP3A Kota Bekasi", is_agency=True, status="verified",
        address_region="32.75.01", operating_regions=["32.75"],
        contact_name="Sekretariat DP3A", contact_email="dp3a@example.org",
        contact_phone="+6281200000000", sector="Pemerintah daerah",
    )
    session.add(agency)
    staff = [User(organisation=agency, email=email, name=name, role=role, region_codes=regions,
                  password_hash=hash_password(DEMO_PASSWORD))
             for email, name, role, regions in AGENCY_STAFF]
    session.add_all(staff)
    session.flush()
    audit.record(session, SYSTEM, "organisation.seeded", "organisation", agency.id)
    for user in staff:  # notify's recipient directory learns of them, as of any new account
        outbox.emit(session, "user.created", "user", user.id,
                    organisations.user_event_payload(user))


def _seed_partner(session: Session, partner: dict) -> None:
    data = {k: v for k, v in partner.items() if k != "offers"}
    data["id"] = demo_history.organisation_id(partner["name"])  # matching's history names it
    data["admin"] = {**partner["admin"], "password": DEMO_PASSWORD, "locale": "id"}
    organisation, admin = organisations.register(session, SYSTEM, data)
    organisations.change_status(session, SYSTEM, organisation, "verify", "Demo")
    owner = Actor(id=str(admin.id), role="partner_admin", organisation_id=str(organisation.id))
    start = today_wib()
    for item in partner["offers"]:
        offer = offers.create(session, owner, {
            **item, "available_from": start, "available_to": start + timedelta(days=365),
            "language": "id"})
        offers.change_status(session, owner, offer, "submit")


def _seed_past_offers(session: Session) -> None:
    """Last semester's offers (expired now), with the capacity the delivered matches of
    services/demo_history.py committed, each ledger entry keyed by its proposal's id."""
    start, end = demo_history.offer_window(today_wib())
    began = datetime.combine(start, time(9), WIB)
    for past in demo_history.PAST_OFFERS:
        delivered = demo_history.committed(past.key)
        offer = Offer(
            id=past.id, organisation_id=demo_history.organisation_id(past.partner),
            kind=past.kind, title=past.title, description="Penawaran semester lalu (demo).",
            unit=past.unit, capacity=past.capacity,
            committed=sum(need.quantity for need in delivered), available_from=start,
            available_to=end, mode=past.mode, language="id", status="expired",
            created_by="system:seed", created_at=began, submitted_at=began, activated_at=began,
            expired_at=datetime.combine(end + timedelta(days=1), time(0), WIB),
            topic_codes=sorted(past.topics), region_codes=sorted(past.delivery_regions),
            topic_rows=[OfferTopic(topic_code=code) for code in past.topics],
            region_rows=[OfferRegion(region_code=code) for code in past.delivery_regions])
        session.add(offer)
        session.flush()  # the ledger's rows refer to it (no relationship orders the inserts)
        for need in delivered:
            when = demo_history.timeline(need, today_wib())
            session.add(CapacityEntry(
                offer_id=past.id, reference=str(need.proposal_id), quantity=need.quantity,
                state="committed", actor_id="system:seed", created_at=when.approved,
                committed_at=when.delivered))
    session.flush()
    audit.record(session, SYSTEM, "offer.seeded", "offer", "past-semester", None,
                 {"offers": [str(o.id) for o in demo_history.PAST_OFFERS]})
