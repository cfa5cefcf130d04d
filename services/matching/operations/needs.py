"""Needs: what a class lacks (trainers, modules, funding, facilities), and their status."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.models import HOLDING, Need, Programme, Proposal
from services.matching.operations.access import can_see_need, require_need_editor
from services.matching.schemas import check_need_rules
from shared import audit, outbox
from shared.audit import Actor
from shared.db import utcnow
from shared.errors import abort, invalid
from shared.regions import catalogue, covers

NEED_FIELDS = ("programme_id", "kind", "title", "topics", "quantity", "covered", "unit",
               "window_start", "window_end", "region", "priority", "accepted_modes",
               "single_offer", "excluded_organisations", "status")
OPEN_STATUSES = ("open", "partially_matched")


def snapshot(need: Need) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in NEED_FIELDS:
        value = getattr(need, name)
        out[name] = str(value) if isinstance(value, (uuid.UUID,)) or name.startswith(
            "window") else value
    return out


def check_topics(codes: list[str], vocabulary: frozenset[str]) -> None:
    unknown = [code for code in codes if code not in vocabulary]
    if unknown:
        invalid("topics", f"Not in the topic vocabulary: {', '.join(unknown)} "
                          "(the partners service's GET /api/v1/topics lists them).")


def create(session: Session, actor: Actor, data: dict[str, Any],
           vocabulary: frozenset[str]) -> Need:
    require_need_editor(actor, data["region"])
    check_topics(data["topics"], vocabulary)
    programme = session.get(Programme, data["programme_id"])
    if programme is None:
        invalid("programme_id", "No programme with this id.")
    _require_in_programme(programme, data["region"])
    data = {**data, "excluded_organisations": [str(o) for o in data["excluded_organisations"]]}
    need = Need(**data, programme=programme, status="open", covered=0, created_by=actor.id)
    session.add(need)
    session.flush()
    audit.record(session, actor, "need.created", "need", need.id, None, snapshot(need))
    return need


def _require_in_programme(programme: Programme, region: str) -> None:
    if not covers(programme.region, region) and not covers(region, programme.region):
        invalid("region", f"The need's region must lie in the programme's region "
                          f"{programme.region}.")


def get(session: Session, actor: Actor, need_id: uuid.UUID, *, for_update: bool = False
        ) -> Need:
    statement = select(Need).where(Need.id == need_id)
    if for_update:
        statement = statement.with_for_update(of=Need)
    need = session.scalar(statement)
    if need is None or not can_see_need(actor, need.region):
        abort(404, "No need with this id.")
    return need


def update(session: Session, actor: Actor, need: Need, changes: dict[str, Any],
           vocabulary: frozenset[str]) -> Need:
    require_need_editor(actor, need.region)
    if "region" in changes:
        require_need_editor(actor, changes["region"])
        _require_in_programme(need.programme, changes["region"])
    if need.status in {"fulfilled", "cancelled"}:
        abort(409, f"A {need.status} need can no longer be changed.", type="illegal-transition",
              current_status=need.status)
    if "topics" in changes:
        check_topics(changes["topics"], vocabulary)
    merged = {name: changes.get(name, getattr(need, name))
              for name in ("unit", "quantity", "accepted_modes", "window_start", "window_end")}
    errors = check_need_rules(need.kind, merged)
    if errors:
        abort(422, "Some fields are not valid; see errors.", errors=errors)
    if merged["quantity"] < need.covered:
        invalid("quantity", f"{need.covered} {need.unit} are already approved; the quantity "
                            "cannot go below that.")
    before = snapshot(need)
    for name, value in changes.items():
        if name == "excluded_organisations":
            value = [str(o) for o in value]
        setattr(need, name, value)
    refresh_status(session, need)
    session.flush()
    audit.record(session, actor, "need.updated", "need", need.id, before, snapshot(need))
    return need


def cancel(session: Session, actor: Actor, need: Need) -> Need:
    require_need_editor(actor, need.region)
    if need.status not in OPEN_STATUSES:
        abort(409, f"Only an open need can be cancelled; this one is {need.status}.",
              type="illegal-transition", current_status=need.status)
    if need.covered > 0:
        abort(409, f"{need.covered} {need.unit} of this need are already approved; those "
                   "matches must be declined before the need can be cancelled.",
              type="need-has-approved-matches")
    before = snapshot(need)
    need.status = "cancelled"
    need.cancelled_at = utcnow()
    session.flush()
    audit.record(session, actor, "need.cancelled", "need", need.id, before, snapshot(need))
    return need


def refresh_status(session: Session, need: Need) -> None:
    """open → partially_matched → matched → fulfilled, derived from approved quantities."""
    if need.status == "cancelled":
        return
    if need.covered == 0:
        need.status = "open"
    elif need.covered < need.quantity:
        need.status = "partially_matched"
    else:
        unfinished = session.scalar(select(sa.func.count()).select_from(Proposal).where(
            Proposal.need_id == need.id, Proposal.status.in_(("approved", "accepted"))))
        need.status = "matched" if unfinished else "fulfilled"


def search(actor: Actor, args: dict[str, Any]) -> sa.Select:
    statement = select(Need).order_by(Need.priority.desc(), Need.created_at, Need.id)
    if actor.role == "coordinator":
        statement = statement.where(sa.or_(*[
            (Need.region == code) | Need.region.startswith(code + ".", autoescape=True)
            for code in actor.region_codes] or [sa.false()]))
    for name in ("programme_id", "kind", "status"):
        if args.get(name) is not None:
            statement = statement.where(getattr(Need, name) == args[name])
    if args.get("region"):
        code = args["region"]
        statement = statement.where((Need.region == code)
                                    | Need.region.startswith(code + ".", autoescape=True))
    if args.get("topic"):
        # Topics are a small JSON list; filter in SQL on both databases via LIKE on the text.
        statement = statement.where(sa.cast(Need.topics, sa.Text).contains(
            f'"{args["topic"]}"', autoescape=True))
    return statement


def holding_quantity(session: Session, need_id: uuid.UUID) -> int:
    return session.scalar(select(sa.func.coalesce(sa.func.sum(Proposal.quantity), 0)).where(
        Proposal.need_id == need_id, Proposal.status.in_(HOLDING))) or 0


def region_name(code: str) -> str:
    region = catalogue().get(code)
    return region.name if region else code


def request_feedback(session: Session, actor: Actor, today: Any) -> int:
    """Once a need's window has passed and help was approved, ask its coordinator (once) to
    confirm delivery and rate it."""
    due = session.scalars(select(Need).where(
        Need.window_end < today, Need.covered > 0, Need.feedback_requested_at.is_(None),
        Need.status.in_(("partially_matched", "matched")))).all()
    for need in due:
        need.feedback_requested_at = utcnow()
        outbox.emit(session, "feedback.requested", "need", need.id, {
            "need_id": str(need.id), "need_title": need.title, "need_region": need.region,
            "window_end": need.window_end.isoformat()})
        audit.record(session, actor, "need.feedback_requested", "need", need.id, None,
                     {"window_end": need.window_end.isoformat()})
    session.flush()
    return len(due)
