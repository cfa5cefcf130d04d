"""The collaboration report after a whole loop through the real services: needs posted, a
run on the worker, approvals with reservations, the partners' answers, delivery and ratings;
and the CSV export of the same figures."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.matching.models import Need, Proposal
from services.matching.models import db as matching_db
from shared.clock import today_wib
from tests.matching.conftest import MUSTIKASARI, World
from tests.partners.conftest import bearer

PADURENAN = "32.75.11.1001"
TODAY = today_wib()
PERIOD = {"period_start": str(TODAY), "period_end": str(TODAY + timedelta(days=365))}


def post_need(world: World, programme_id: str, headers: dict[str, str], **body: Any) -> dict:
    body = {"programme_id": programme_id, "window_start": str(TODAY),
            "window_end": str(TODAY + timedelta(days=90)), "region": MUSTIKASARI, "priority": 3,
            **body}
    response = world.client.post("/api/v1/needs", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def backdate(need_id: str, days_before_approval: int) -> None:
    """Make the need older: posted `days` before its match was approved."""
    with matching_db.session_factory() as session:
        approved_at = session.scalar(sa.select(Proposal.approved_at).where(
            Proposal.need_id == uuid.UUID(need_id), Proposal.approved_at.is_not(None)))
        session.execute(sa.update(Need).where(Need.id == uuid.UUID(need_id)).values(
            created_at=approved_at - timedelta(days=days_before_approval)))
        session.commit()


@pytest.fixture
def loop(world: World) -> dict[str, Any]:
    """Kota Bekasi after one round: a university trained a Mustikasari class (rated 5), a
    company funded its facilitators' incentives (rated 3); entrepreneurship modules and a
    Padurenan financial-management trainer found nobody; one need was cancelled."""
    make = world.make
    university, lecturer = make.organisation(kind="university", name="Universitas Uji (fiktif)")
    make.offer(lecturer, title="Pelatihan pemasaran digital oleh dosen LPPM", capacity=10)
    world.offer(kind="funding", unit="rupiah", capacity=50_000_000,
                title="Dana CSR insentif fasilitator", topics=["insentif_fasilitator"])
    mustikasari = world.programme()
    padurenan = world.programme(name="Sekoper Cinta Kelurahan Padurenan 2027", region=PADURENAN)
    coordinator, officer = world.coordinator_h, world.officer_h

    trainer = post_need(world, mustikasari["id"], coordinator, kind="trainer",
                        title="Pelatih pemasaran digital", topics=["pemasaran_digital"],
                        quantity=4, unit="sessions")
    funding = post_need(world, mustikasari["id"], coordinator, kind="funding",
                        title="Insentif fasilitator", topics=["insentif_fasilitator"],
                        quantity=20_000_000, unit="rupiah")
    post_need(world, mustikasari["id"], coordinator, kind="module",
              title="Modul kewirausahaan untuk peserta", topics=["kewirausahaan"],
              quantity=100, unit="seats")
    post_need(world, mustikasari["id"], coordinator, kind="module",
              title="Paket bahan ajar kewirausahaan", topics=["kewirausahaan", "bahan_ajar"],
              quantity=2, unit="units")
    post_need(world, padurenan["id"], officer, kind="trainer", region=PADURENAN,
              title="Pelatih manajemen keuangan", topics=["manajemen_keuangan"], quantity=3,
              unit="sessions")
    cancelled = post_need(world, mustikasari["id"], coordinator, kind="trainer",
                          title="Pelatih parenting", topics=["parenting"], quantity=2,
                          unit="sessions")
    assert world.client.post(f"/api/v1/needs/{cancelled['id']}/cancel",
                             headers=coordinator).status_code == 200

    run = world.run()
    assert run["status"] == "succeeded", run
    by_need = {p["need_id"]: p for p in world.proposals(run_id=run["id"])}
    assert set(by_need) == {trainer["id"], funding["id"]}
    answers = {trainer["id"]: (bearer(make.token(lecturer)), 5, 4),
               funding["id"]: (world.company_h, 3, 20_000_000)}
    for need_id, (partner_h, rating, delivered) in answers.items():
        pid = by_need[need_id]["id"]
        assert world.client.post(f"/api/v1/proposals/{pid}/approve",
                                 headers=officer).json["status"] == "approved"
        assert world.client.post(f"/api/v1/proposals/{pid}/accept",
                                 headers=partner_h).json["status"] == "accepted"
        response = world.client.post(f"/api/v1/proposals/{pid}/delivery", json={
            "delivered_quantity": delivered, "rating": rating}, headers=coordinator)
        assert response.status_code == 201, response.json
    backdate(trainer["id"], 3)
    backdate(funding["id"], 5)
    return {"university": university, "company": world.company}


def report(world: World, **query: Any):
    response = world.client.get("/api/v1/reports/collaboration",
                                query_string={**PERIOD, "region": "32.75", **query},
                                headers=world.officer_h)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_the_collaboration_report_after_a_whole_loop(world, loop):
    data = report(world).json
    company, university = loop["company"], loop["university"]

    assert data["period"] == {"start": PERIOD["period_start"], "end": PERIOD["period_end"]}
    assert data["region"] == {"code": "32.75", "name": "Kota Bekasi"}
    assert data["needs_by_kind_and_status"] == {
        "funding": {"fulfilled": 1},
        "module": {"open": 2},
        "trainer": {"fulfilled": 1, "open": 1, "cancelled": 1},
    }
    assert data["demand"] == [
        {"kind": "funding", "unit": "rupiah", "quantity": 20_000_000, "covered": 20_000_000,
         "covered_pct": 100.0},
        {"kind": "module", "unit": "seats", "quantity": 100, "covered": 0, "covered_pct": 0.0},
        {"kind": "module", "unit": "units", "quantity": 2, "covered": 0, "covered_pct": 0.0},
        {"kind": "trainer", "unit": "sessions", "quantity": 7, "covered": 4,
         "covered_pct": 57.1},
    ]
    assert data["delivered_by_partner_kind"] == [
        {"partner_kind": "company", "matches": 1, "rupiah": 20_000_000, "share_pct": 50.0},
        {"partner_kind": "university", "matches": 1, "sessions": 4, "share_pct": 50.0},
    ]
    month = TODAY.strftime("%Y-%m")  # both deliveries were confirmed today (WIB)
    assert data["delivered_by_partner_kind_per_month"] == [
        {"month": month, "partner_kind": "company", "matches": 1, "rupiah": 20_000_000,
         "share_pct": 50.0},
        {"month": month, "partner_kind": "university", "matches": 1, "sessions": 4,
         "share_pct": 50.0},
    ]
    assert data["rupiah_committed_by_source"] == [
        {"organisation": company.name, "organisation_kind": "company", "amount_idr": 20_000_000}]
    assert data["coverage_per_kelurahan"] == [
        {"region": PADURENAN, "name": "Padurenan", "needs": 1, "fully_covered": 0,
         "covered_pct": 0.0},
        {"region": MUSTIKASARI, "name": "Mustikasari", "needs": 4, "fully_covered": 2,
         "covered_pct": 50.0},
    ]
    unmet = {row["topic"]: row for row in data["unmet_by_topic"]}
    assert unmet == {
        "kewirausahaan": {"topic": "kewirausahaan", "needs": 2, "remaining_seats": 100,
                          "remaining_units": 2},
        "bahan_ajar": {"topic": "bahan_ajar", "needs": 1, "remaining_units": 2},
        "manajemen_keuangan": {"topic": "manajemen_keuangan", "needs": 1,
                               "remaining_sessions": 3},
    }
    assert data["unmet_by_topic"][0]["topic"] == "kewirausahaan"  # the most wanted first
    assert data["median_days_to_approval"] == 4.0
    assert sorted(data["ratings"], key=lambda r: r["mean_rating"]) == [
        {"organisation_id": str(company.id), "organisation": company.name, "mean_rating": 3.0,
         "ratings": 1},
        {"organisation_id": str(university.id), "organisation": university.name,
         "mean_rating": 5.0, "ratings": 1},
    ]


def figures(data: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """Every figure of the JSON report, keyed by (section, row, field)."""
    out: dict[tuple[str, str, str], str] = {}
    for kind, statuses in data["needs_by_kind_and_status"].items():
        for status, count in statuses.items():
            out[("needs_by_kind_and_status", kind, status)] = str(count)
    keys = {"demand": lambda r: f"{r['kind']}/{r['unit']}",
            "delivered_by_partner_kind_per_month":
                lambda r: f"{r['month']}/{r['partner_kind']}",
            "delivered_by_partner_kind": lambda r: r["partner_kind"],
            "rupiah_committed_by_source": lambda r: r["organisation"],
            "coverage_per_kelurahan": lambda r: r["region"],
            "unmet_by_topic": lambda r: r["topic"],
            "ratings": lambda r: r["organisation"]}
    hidden = {"demand": {"kind", "unit"}, "delivered_by_partner_kind": {"partner_kind"},
              "delivered_by_partner_kind_per_month": {"month", "partner_kind"},
              "rupiah_committed_by_source": {"organisation"},
              "coverage_per_kelurahan": {"region"}, "unmet_by_topic": {"topic"},
              "ratings": {"organisation"}}
    for section, key in keys.items():
        for row in data[section]:
            for name, value in row.items():
                if name not in hidden[section]:
                    out[(section, key(row), name)] = str(value)
    out[("median_days_to_approval", "", "days")] = str(data["median_days_to_approval"])
    return out


def test_the_csv_export_holds_the_same_figures(world, loop):
    data = report(world).json
    response = report(world, format="csv")
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="kolaborasi-32.75-{PERIOD["period_start"]}.csv"' in disposition

    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["section", "key", "field", "value"]
    table = {(section, key, name): value for section, key, name, value in rows[1:]}
    assert len(table) == len(rows) - 1, "two CSV rows for the same figure"
    assert table == figures(data)
    # Spot checks a spreadsheet user would make.
    assert table[("rupiah_committed_by_source", loop["company"].name, "amount_idr")] == (
        "20000000")
    assert table[("coverage_per_kelurahan", MUSTIKASARI, "name")] == "Mustikasari"
    assert table[("demand", "module/units", "quantity")] == "2"
    assert table[("median_days_to_approval", "", "days")] == "4.0"


def test_the_report_keeps_to_its_region_and_period(world, loop):
    data = report(world, region=MUSTIKASARI).json
    assert data["region"] == {"code": MUSTIKASARI, "name": "Mustikasari"}
    assert [row["region"] for row in data["coverage_per_kelurahan"]] == [MUSTIKASARI]
    assert "manajemen_keuangan" not in {row["topic"] for row in data["unmet_by_topic"]}
    assert data["needs_by_kind_and_status"]["trainer"] == {"fulfilled": 1, "cancelled": 1}

    last_year = report(world, period_start=str(TODAY - timedelta(days=400)),
                       period_end=str(TODAY - timedelta(days=30))).json
    assert last_year["needs_by_kind_and_status"] == {}
    assert last_year["demand"] == [] and last_year["coverage_per_kelurahan"] == []
    assert last_year["rupiah_committed_by_source"] == [] and last_year["ratings"] == []
    assert last_year["delivered_by_partner_kind_per_month"] == []
    assert last_year["median_days_to_approval"] is None
    empty_csv = report(world, format="csv", period_start=str(TODAY - timedelta(days=400)),
                       period_end=str(TODAY - timedelta(days=30)))
    assert list(csv.reader(io.StringIO(empty_csv.get_data(as_text=True)))) == [
        ["section", "key", "field", "value"], ["median_days_to_approval", "", "days", ""]]


def test_the_share_by_partner_kind_month_by_month(world, loop):
    """Each month's deliveries (by the WIB month they were confirmed) with each partner
    kind's share of that month."""
    earlier = TODAY - timedelta(days=40)
    with matching_db.session_factory() as session:
        session.execute(sa.update(Proposal).where(
            Proposal.organisation_kind == "university", Proposal.status == "fulfilled").values(
            fulfilled_at=sa.func.now() - timedelta(days=40)))
        session.commit()
    data = report(world).json
    assert data["delivered_by_partner_kind_per_month"] == [
        {"month": earlier.strftime("%Y-%m"), "partner_kind": "university", "matches": 1,
         "sessions": 4, "share_pct": 100.0},
        {"month": TODAY.strftime("%Y-%m"), "partner_kind": "company", "matches": 1,
         "rupiah": 20_000_000, "share_pct": 100.0},
    ]
    rows = list(csv.reader(io.StringIO(report(world, format="csv").get_data(as_text=True))))
    assert ["delivered_by_partner_kind_per_month",
            f"{earlier.strftime('%Y-%m')}/university", "sessions", "4"] in rows

