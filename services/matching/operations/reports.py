"""The collaboration report: how far partners now carry the programme, per kelurahan."""
from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.models import HOLDING, Delivery, Need, Proposal
from shared.clock import WIB
from shared.regions import catalogue


def collaboration(session: Session, period_start: date, period_end: date,
                  region: str) -> dict[str, Any]:
    needs = list(session.scalars(select(Need).where(
        Need.window_start <= period_end, Need.window_end >= period_start,
        (Need.region == region) | Need.region.startswith(region + ".", autoescape=True))))
    need_by_id = {n.id: n for n in needs}
    proposals = list(session.scalars(select(Proposal).where(
        Proposal.need_id.in_(list(need_by_id)), Proposal.status.in_(HOLDING)))) if needs else []
    deliveries = list(session.scalars(select(Delivery).where(
        Delivery.proposal_id.in_([p.id for p in proposals])))) if proposals else []

    by_kind_status: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    demand: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"quantity": 0,
                                                                         "covered": 0})
    unmet: dict[str, dict[str, int]] = defaultdict(lambda: {"needs": 0})
    per_kelurahan: dict[str, dict[str, int]] = defaultdict(lambda: {"needs": 0, "fully_covered": 0})
    for need in needs:
        by_kind_status[need.kind][need.status] += 1
        if need.status == "cancelled":
            continue
        row = demand[(need.kind, need.unit)]
        row["quantity"] += need.quantity
        row["covered"] += need.covered
        place = per_kelurahan[need.region]
        place["needs"] += 1
        place["fully_covered"] += int(need.covered >= need.quantity)
        if need.covered < need.quantity:
            for topic in need.topics:
                unmet[topic]["needs"] += 1
                key = f"remaining_{need.unit}"
                unmet[topic][key] = unmet[topic].get(key, 0) + need.quantity - need.covered

    delivered: dict[str, dict[str, int]] = defaultdict(lambda: {"matches": 0})
    # Help delivered per month (of the delivery, in WIB) and partner kind: the share over time.
    monthly: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"matches": 0})
    rupiah_by_source: dict[str, dict[str, Any]] = {}
    days_to_approval = []
    for proposal in proposals:
        need = need_by_id[proposal.need_id]
        if proposal.status == "fulfilled":
            share = delivered[proposal.organisation_kind]
            share["matches"] += 1
            share[proposal.unit] = share.get(proposal.unit, 0) + proposal.quantity
            if proposal.fulfilled_at is not None:
                month = proposal.fulfilled_at.astimezone(WIB).strftime("%Y-%m")
                row = monthly[(month, proposal.organisation_kind)]
                row["matches"] += 1
                row[proposal.unit] = row.get(proposal.unit, 0) + proposal.quantity
        if proposal.unit == "rupiah":
            source = rupiah_by_source.setdefault(str(proposal.organisation_id), {
                "organisation": proposal.organisation_name,
                "organisation_kind": proposal.organisation_kind, "amount_idr": 0})
            source["amount_idr"] += proposal.quantity
        if proposal.approved_at is not None:
            days_to_approval.append((proposal.approved_at - need.created_at).total_seconds()
                                    / 86400)
    total_matches = sum(s["matches"] for s in delivered.values()) or 1
    ratings: dict[str, list[int]] = defaultdict(list)
    names = {str(p.organisation_id): p.organisation_name for p in proposals}
    for delivery in deliveries:
        ratings[str(delivery.organisation_id)].append(delivery.rating)

    return {
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        "region": {"code": region, "name": _name(region)},
        "needs_by_kind_and_status": {k: dict(v) for k, v in sorted(by_kind_status.items())},
        "demand": [{"kind": kind, "unit": unit, **row,
                    "covered_pct": _pct(row["covered"], row["quantity"])}
                   for (kind, unit), row in sorted(demand.items())],
        "delivered_by_partner_kind": [
            {"partner_kind": kind, **row, "share_pct": _pct(row["matches"], total_matches)}
            for kind, row in sorted(delivered.items())],
        "delivered_by_partner_kind_per_month": _monthly_shares(monthly),
        "rupiah_committed_by_source": sorted(rupiah_by_source.values(),
                                             key=lambda r: -r["amount_idr"]),
        "coverage_per_kelurahan": [
            {"region": code, "name": _name(code), **row,
             "covered_pct": _pct(row["fully_covered"], row["needs"])}
            for code, row in sorted(per_kelurahan.items())],
        "unmet_by_topic": [{"topic": topic, **row} for topic, row in
                           sorted(unmet.items(), key=lambda item: -item[1]["needs"])],
        "median_days_to_approval": round(statistics.median(days_to_approval), 2)
        if days_to_approval else None,
        "ratings": [{"organisation_id": org, "organisation": names.get(org, org),
                     "mean_rating": round(sum(values) / len(values), 2), "ratings": len(values)}
                    for org, values in sorted(ratings.items())],
    }


def _monthly_shares(monthly: dict[tuple[str, str], dict[str, int]]) -> list[dict[str, Any]]:
    """Rows per month and partner kind, with each kind's share of that month's matches."""
    totals: dict[str, int] = defaultdict(int)
    for (month, _), row in monthly.items():
        totals[month] += row["matches"]
    return [{"month": month, "partner_kind": kind, **row,
             "share_pct": _pct(row["matches"], totals[month])}
            for (month, kind), row in sorted(monthly.items())]


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _name(code: str) -> str:
    region = catalogue().get(code)
    return region.name if region else code


def as_csv(report: dict[str, Any]) -> str:
    """The same report as one CSV table: section, then the row's fields as key=value pairs
    in columns a spreadsheet can filter on."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "field", "value"])
    for kind, statuses in report["needs_by_kind_and_status"].items():
        for status, count in statuses.items():
            writer.writerow(["needs_by_kind_and_status", kind, status, count])
    # Demand is per kind and unit (modules count in seats, sessions or units): key on both.
    for row in report["demand"]:
        for name, value in row.items():
            if name not in ("kind", "unit"):
                writer.writerow(["demand", f"{row['kind']}/{row['unit']}", name, value])
    for row in report["delivered_by_partner_kind_per_month"]:
        for name, value in row.items():
            if name not in ("month", "partner_kind"):
                writer.writerow(["delivered_by_partner_kind_per_month",
                                 f"{row['month']}/{row['partner_kind']}", name, value])
    for section, key in (("delivered_by_partner_kind", "partner_kind"),
                         ("rupiah_committed_by_source", "organisation"),
                         ("coverage_per_kelurahan", "region"), ("unmet_by_topic", "topic"),
                         ("ratings", "organisation")):
        for row in report[section]:
            for name, value in row.items():
                if name != key:
                    writer.writerow([section, row[key], name, value])
    writer.writerow(["median_days_to_approval", "", "days", report["median_days_to_approval"]
                     if report["median_days_to_approval"] is not None else ""])
    return out.getvalue()
