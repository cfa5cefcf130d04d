"""DP3A's collaboration dashboard: matching's collaboration report as charts of plain HTML
(`<meter>` bars, no script), each with the table behind it and its CSV; the whole report as
CSV too. Coverage is a grid of every kelurahan of the city, from the regions catalogue."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import lazy_gettext as _l

from services.portal.auth import DP3A_ROLES, roles_required
from services.portal.clients import matching
from services.portal.i18n import WIB
from services.portal.views.reference import kelurahan_of, parse_date, topic_label, words

bp = Blueprint("dashboard", __name__, url_prefix="/dasbor")
CITY = "32.75"  # Kota Bekasi, the default deployment


@dataclass
class Chart:
    """One chart: its rows (plain values, as in the CSV), the columns shown, and which
    column is drawn as the bar (against the largest value, or `bar_max`)."""

    slug: str
    title: Any
    columns: list[tuple[str, Any]]
    rows: list[dict[str, Any]]
    bar: str | None = None
    bar_label: str | None = None
    bar_max: float | None = None
    money: tuple[str, ...] = ()
    note: Any = None
    grid: list[Any] = field(default_factory=list)

    @property
    def top(self) -> float:
        if self.bar_max is not None:
            return self.bar_max
        return max([float(r.get(self.bar) or 0) for r in self.rows] + [1.0])

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([key for key, _ in self.columns])
        for row in self.rows:
            writer.writerow(["" if row.get(key) is None else row.get(key)
                             for key, _ in self.columns])
        return out.getvalue()


COVERAGE_BANDS = ((None, "none", _l("No needs")), (0.0, "zero", _l("Nothing covered")),
                  (50.0, "low", _l("Under half covered")), (100.0, "mid", _l("Half or more")),
                  (float("inf"), "full", _l("All covered")))


def coverage_band(row: dict[str, Any] | None) -> tuple[str, Any]:
    """The grid cell's class and words: colour always comes with text."""
    if not row or not row.get("needs"):
        return "none", COVERAGE_BANDS[0][2]
    pct = float(row["covered_pct"])
    if pct <= 0:
        return "zero", COVERAGE_BANDS[1][2]
    if pct < 50:
        return "low", COVERAGE_BANDS[2][2]
    if pct < 100:
        return "mid", COVERAGE_BANDS[3][2]
    return "full", COVERAGE_BANDS[4][2]


def _period() -> tuple[date, date]:
    """The period asked for, else this calendar year (WIB)."""
    this_year = datetime.now(WIB).year
    start = parse_date(request.args.get("period_start")) or date(this_year, 1, 1)
    end = parse_date(request.args.get("period_end")) or date(this_year, 12, 31)
    return start, end


def _report(start: date, end: date, fmt: str = "json") -> Any:
    return matching().get("/api/v1/reports/collaboration", params={
        "period_start": start.isoformat(), "period_end": end.isoformat(), "region": CITY,
        "format": fmt})


def charts(report: dict[str, Any]) -> list[Chart]:
    """Every chart of the dashboard from one report."""
    by_region = {row["region"]: row for row in report["coverage_per_kelurahan"]}
    coverage_rows, grid = [], []
    for kecamatan, places in kelurahan_of(CITY):
        cells = []
        for place in places:
            row = by_region.get(place["code"])
            band, label = coverage_band(row)
            coverage_rows.append({
                "kecamatan": kecamatan["name"], "region": place["code"], "name": place["name"],
                "needs": row["needs"] if row else 0,
                "fully_covered": row["fully_covered"] if row else 0,
                "covered_pct": row["covered_pct"] if row else None})
            cells.append({"code": place["code"], "name": place["name"], "band": band,
                          "label": label, "row": row})
        grid.append({"name": kecamatan["name"], "cells": cells})
    kinds = words()["organisation_kinds"]
    units = ("rupiah", "sessions", "seats", "units")

    def per_unit(row: dict[str, Any]) -> dict[str, Any]:
        return {unit: row.get(unit, 0) for unit in units}

    monthly = [{"month": r["month"], "partner_kind": r["partner_kind"],
                "partner_kind_label": kinds.get(r["partner_kind"], r["partner_kind"]),
                "matches": r["matches"], **per_unit(r), "share_pct": r["share_pct"]}
               for r in report.get("delivered_by_partner_kind_per_month", [])]
    overall = [{"partner_kind": r["partner_kind"],
                "partner_kind_label": kinds.get(r["partner_kind"], r["partner_kind"]),
                "matches": r["matches"], **per_unit(r), "share_pct": r["share_pct"]}
               for r in report["delivered_by_partner_kind"]]
    unit_columns = [("rupiah", _l("Rupiah")), ("sessions", _l("Sessions")),
                    ("seats", _l("Seats")), ("units", _l("Units"))]
    remaining_units = [u for u in units if any(f"remaining_{u}" in r
                                               for r in report["unmet_by_topic"])]
    unmet = [{"topic": r["topic"], "topic_label": topic_label(r["topic"]), "needs": r["needs"],
              **{f"remaining_{u}": r.get(f"remaining_{u}", 0) for u in remaining_units}}
             for r in report["unmet_by_topic"]]
    days = report.get("median_days_to_approval")
    return [
        Chart("coverage", _l("Coverage per kelurahan"),
              [("kecamatan", _l("Kecamatan")), ("region", _l("Code")), ("name", _l("Kelurahan")),
               ("needs", _l("Needs")), ("fully_covered", _l("Fully covered")),
               ("covered_pct", _l("Covered (%)"))], coverage_rows, grid=grid,
              note=_l("Share of each kelurahan's needs that are fully covered.")),
        Chart("partner-kinds-monthly", _l("Help delivered by partner kind, month by month"),
              [("month", _l("Month")), ("partner_kind", _l("Partner kind (code)")),
               ("partner_kind_label", _l("Partner kind")), ("matches", _l("Deliveries")),
               *unit_columns, ("share_pct", _l("Share of the month (%)"))], monthly,
              bar="share_pct", bar_max=100.0),
        Chart("partner-kinds", _l("Help delivered by partner kind, whole period"),
              [("partner_kind", _l("Partner kind (code)")),
               ("partner_kind_label", _l("Partner kind")), ("matches", _l("Deliveries")),
               *unit_columns, ("share_pct", _l("Share (%)"))], overall,
              bar="share_pct", bar_max=100.0),
        Chart("rupiah-by-source", _l("Rupiah committed by source"),
              [("organisation", _l("Organisation")), ("organisation_kind", _l("Kind")),
               ("amount_idr", _l("Amount (Rp)"))], report["rupiah_committed_by_source"],
              bar="amount_idr", money=("amount_idr",)),
        Chart("unmet-by-topic", _l("Unmet needs by topic"),
              [("topic", _l("Topic (code)")), ("topic_label", _l("Topic")),
               ("needs", _l("Open needs")),
               *[(f"remaining_{u}", _l("Still needed: %(unit)s", unit=words()["units"][u]))
                 for u in remaining_units]], unmet, bar="needs"),
        Chart("time-to-approval", _l("Time to approval"),
              [("measure", _l("Measure")), ("days", _l("Days"))],
              [{"measure": "median_days_to_approval", "days": days}],
              note=_l("Median days from posting a need to approving its match.")),
        Chart("ratings", _l("Ratings of delivered help"),
              [("organisation", _l("Organisation")), ("mean_rating", _l("Mean rating (1–5)")),
               ("ratings", _l("Ratings"))], report["ratings"], bar="mean_rating",
              bar_max=5.0),
    ]


@bp.get("/")
@roles_required(DP3A_ROLES)
def index():  # type: ignore[no-untyped-def]
    start, end = _period()
    report = _report(start, end).data
    return render_template("dashboard/index.html", report=report, charts=charts(report),
                           start=start, end=end, bands=COVERAGE_BANDS,
                           words=words())


@bp.get("/<slug>.csv")
@roles_required(DP3A_ROLES)
def chart_csv(slug: str):  # type: ignore[no-untyped-def]
    """One chart's table as CSV (the same rows the page shows); `laporan` is the whole
    report as matching exports it."""
    start, end = _period()
    if slug == "laporan":
        body = _report(start, end, "csv").data
        name = f"kolaborasi-{CITY}-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})
    chart = next((c for c in charts(_report(start, end).data) if c.slug == slug), None)
    if chart is None:
        abort(404)
    name = f"{chart.slug}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(chart.csv(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})

