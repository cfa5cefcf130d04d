"""The Kota Bekasi demo's past semester: the offers partners gave in the last six months and
the matches they delivered, so that whoever starts `make run` finds a dashboard with data.

Both seeds read this one plan: partners creates the past offers (expired now) with the
capacity the matches committed, matching creates the past programme, its needs in several
kelurahan, the proposals with the engine's own explanation, and the coordinators' delivery
ratings. Ids are derived from names (uuid5), so the two databases agree without talking.
Everything here is fictional.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.clock import WIB

NAMESPACE = uuid.UUID("6f1c2a5e-2d4b-4c39-9f55-0a7d3c1e9b21")


def demo_id(name: str) -> uuid.UUID:
    """The same id for the same demo object in every service."""
    return uuid.uuid5(NAMESPACE, name)


def organisation_id(name: str) -> uuid.UUID:
    return demo_id(f"organisation:{name}")


@dataclass(frozen=True)
class PastOffer:
    key: str
    partner: str  # the organisation's name in services/partners/seed.py
    kind: str
    title: str
    topics: tuple[str, ...]
    unit: str
    capacity: int
    delivery_regions: tuple[str, ...]
    mode: str

    @property
    def id(self) -> uuid.UUID:
        return demo_id(f"offer:{self.key}")


@dataclass(frozen=True)
class PastNeed:
    key: str
    region: str  # a kelurahan of Kota Bekasi
    kind: str
    title: str
    topics: tuple[str, ...]
    quantity: int
    unit: str
    months_ago: int
    offer: str | None = None  # the past offer that delivered it; None: still unmet
    rating: int | None = None  # the coordinator's rating of the delivery
    approval_days: int = 7  # from the need's creation to DP3A's approval

    @property
    def id(self) -> uuid.UUID:
        return demo_id(f"need:{self.key}")

    @property
    def proposal_id(self) -> uuid.UUID:
        return demo_id(f"proposal:{self.key}")


NIAGA = "PT Contoh Niaga Sejahtera (fiktif)"
ENERGI = "PT Demo Energi Nusantara (fiktif)"
UNIVERSITAS = "Universitas Contoh Bekasi (fiktif)"

PAST_OFFERS = (
    PastOffer("niaga-dana-2026", NIAGA, "funding", "Dana insentif fasilitator 2026",
              ("insentif_fasilitator",), "rupiah", 60_000_000, ("32.75.11", "32.75.03"),
              "onsite"),
    PastOffer("niaga-pelatih-2026", NIAGA, "trainer", "Pelatih pemasaran digital angkatan 2026",
              ("pemasaran_digital", "kewirausahaan"), "sessions", 10, ("32.75",), "hybrid"),
    PastOffer("energi-aula-2026", ENERGI, "facility", "Aula kantor untuk kelas 2026",
              ("sarana_prasarana",), "units", 2, ("32.75.03",), "onsite"),
    PastOffer("energi-dana-2026", ENERGI, "funding", "Dana CSR sekolah perempuan 2026",
              ("insentif_fasilitator",), "rupiah", 25_000_000, ("32.75",), "onsite"),
    PastOffer("univ-modul-2026", UNIVERSITAS, "module", "Modul literasi keuangan KKN 2026",
              ("manajemen_keuangan", "bahan_ajar"), "sessions", 12, ("32.75",), "onsite"),
    PastOffer("univ-fasilitator-2026", UNIVERSITAS, "trainer",
              "Pelatihan fasilitator angkatan 2026", ("pelatihan_fasilitator",), "sessions", 6,
              ("32.75",), "online"),
)

PAST_NEEDS = (
    PastNeed("padurenan-pemasaran", "32.75.11.1001", "trainer",
             "Pelatih pemasaran digital kelas Padurenan", ("pemasaran_digital",), 4, "sessions",
             6, "niaga-pelatih-2026", 5, approval_days=9),
    PastNeed("bekasijaya-keuangan", "32.75.01.1001", "module",
             "Modul keuangan keluarga kelas Bekasijaya", ("manajemen_keuangan",), 6, "sessions",
             6, "univ-modul-2026", 5, approval_days=12),
    PastNeed("cimuning-insentif", "32.75.11.1002", "funding",
             "Insentif fasilitator kelas Cimuning", ("insentif_fasilitator",), 15_000_000,
             "rupiah", 5, "niaga-dana-2026", 4, approval_days=8),
    PastNeed("kaliabang-ruang", "32.75.03.1001", "facility",
             "Ruang kelas Kaliabang Tengah", ("sarana_prasarana",), 1, "units", 5,
             "energi-aula-2026", 5, approval_days=5),
    PastNeed("perwira-insentif", "32.75.03.1002", "funding",
             "Insentif fasilitator kelas Perwira", ("insentif_fasilitator",), 20_000_000,
             "rupiah", 4, "niaga-dana-2026", 4, approval_days=6),
    PastNeed("bintara-fasilitator", "32.75.02.1001", "trainer",
             "Pelatihan fasilitator kelas Bintara", ("pelatihan_fasilitator",), 3, "sessions", 4,
             "univ-fasilitator-2026", 4, approval_days=10),
    PastNeed("bojong-insentif", "32.75.05.1001", "funding",
             "Insentif fasilitator kelas Bojong Rawalumbu", ("insentif_fasilitator",),
             10_000_000, "rupiah", 3, "energi-dana-2026", 5, approval_days=4),
    PastNeed("pekayon-keuangan", "32.75.04.1001", "module",
             "Modul keuangan keluarga kelas Pekayonjaya", ("manajemen_keuangan",), 4, "sessions",
             3, "univ-modul-2026", 4, approval_days=7),
    PastNeed("jatiwaringin-pemasaran", "32.75.08.1001", "trainer",
             "Pelatih pemasaran digital kelas Jatiwaringin", ("pemasaran_digital",), 4,
             "sessions", 2, "niaga-pelatih-2026", 3, approval_days=5),
    PastNeed("medansatria-ruang", "32.75.06.1001", "facility",
             "Ruang kelas Medansatria", ("sarana_prasarana",), 1, "units", 2),
    PastNeed("jatimekar-kdrt", "32.75.09.1001", "trainer",
             "Narasumber pencegahan KDRT kelas Jatimekar", ("pencegahan_kdrt",), 2, "sessions",
             2),
    PastNeed("jatisampurna-parenting", "32.75.10.1001", "module",
             "Modul pengasuhan anak kelas Jatisampurna", ("parenting",), 4, "sessions", 1),
)


def offer(key: str) -> PastOffer:
    return next(o for o in PAST_OFFERS if o.key == key)


def committed(offer_key: str) -> list[PastNeed]:
    """The delivered needs whose capacity the offer `offer_key` committed."""
    return [need for need in PAST_NEEDS if need.offer == offer_key]


@dataclass(frozen=True)
class Timeline:
    created: datetime
    window_start: date
    window_end: date
    approved: datetime
    accepted: datetime
    delivered: datetime


def timeline(need: PastNeed, today: date) -> Timeline:
    """When each step of a past need happened, counted back from `today` (all in the past)."""
    created = datetime.combine(today - timedelta(days=30 * need.months_ago), time(9), WIB)
    window_start = created.date() + timedelta(days=14)
    window_end = min(window_start + timedelta(days=60), today - timedelta(days=1))
    approved = created + timedelta(days=need.approval_days, hours=2)
    accepted = approved + timedelta(days=2)
    delivered = datetime.combine(window_end, time(15), WIB)
    return Timeline(created, window_start, window_end, approved, accepted, delivered)


def offer_window(today: date) -> tuple[date, date]:
    """The past offers ran for the semester and ended ten days ago."""
    return today - timedelta(days=200), today - timedelta(days=10)
