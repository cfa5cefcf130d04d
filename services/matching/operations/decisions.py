"""DP3A's decisions on proposals, the partner's answer, and the coordinator's confirmation.

Approving reserves the capacity at partners keyed by the proposal id, so a retry changes
nothing there; the proposal row is locked while that happens, so two officers approving at
once cannot both succeed. If partners says the capacity is gone the proposal turns stale; if
partners does not answer, nothing changes here and the officer is asked to retry."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.clients import PartnersClient
from services.matching.models import Delivery, Need, Proposal
from services.matching.operations.access import in_my_regions
from services.matching.operations.needs import refresh_status
from shared import audit, outbox
from shared.audit import Actor
from shared.auth import PARTNER_ROLES
from shared.db import utcnow
from shared.errors import abort, invalid
from shared.http_client import ServiceUnavailable

PROPOSAL_FIELDS = ("status", "quantity", "reason")
PARTNERS_DOWN = ("The partners service did not answer, so nothing was changed. "
                 "Please try again in a moment.")


def _snapshot(proposal: Proposal) -> dict[str, Any]:
    return {name: getattr(proposal, name) for name in PROPOSAL_FIELDS}


def locked(session: Session, proposal_id: uuid.UUID) -> Proposal:
    proposal = session.scalar(select(Proposal).where(Proposal.id == proposal_id)
                              .with_for_update(of=Proposal))
    if proposal is None:
        abort(404, "No proposal with this id.")
    return proposal


def _locked_need(session: Session, need_id: uuid.UUID) -> Need:
    return session.scalar(select(Need).where(Need.id == need_id).with_for_update(of=Need))


def _event(session: Session, event_type: str, proposal: Proposal, need: Need,
           **extra: Any) -> None:
    outbox.emit(session, event_type, "proposal", proposal.id, {
        "proposal_id": str(proposal.id), "need_id": str(need.id), "need_title": need.title,
        "need_region": need.region, "offer_id": str(proposal.offer_id),
        "offer_title": proposal.offer_title, "organisation_id": str(proposal.organisation_id),
        "organisation_name": proposal.organisation_name, "quantity": proposal.quantity,
        "unit": proposal.unit, "status": proposal.status, **extra})


def approve(session: Session, actor: Actor, partners: PartnersClient, proposal_id: uuid.UUID
            ) -> tuple[Proposal, str | None]:
    """(proposal, why it turned stale or None). Raises 503 when partners does not answer."""
    proposal = locked(session, proposal_id)
    if proposal.status == "approved":
        return proposal, None  # a repeat of the same approval
    if proposal.status != "proposed":
        abort(409, f"Only a proposed match can be approved; this one is {proposal.status}.",
              type="illegal-transition", current_status=proposal.status)
    need = _locked_need(session, proposal.need_id)
    before = _snapshot(proposal)
    if need.status not in ("open", "partially_matched") or \
            need.covered + proposal.quantity > need.quantity:
        return _stale(session, actor, proposal, need, before,
                      "The need is already covered by other approved matches.")
    try:
        answer = partners.reserve(proposal.offer_id, str(proposal.id), proposal.quantity)
    except ServiceUnavailable:
        session.rollback()
        abort(503, PARTNERS_DOWN, type="partners-unavailable", headers={"Retry-After": "5"})
    if not answer.ok:
        if answer.status == 409:
            return _stale(session, actor, proposal, need, before,
                          answer.detail or "The offer has no capacity left.")
        session.rollback()
        abort(502, f"The partners service refused the reservation: {answer.detail}",
              type="partners-refused")
    proposal.status = "approved"
    proposal.approved_at = utcnow()
    proposal.decided_by = actor.id
    need.covered += proposal.quantity
    refresh_status(session, need)
    session.flush()
    audit.record(session, actor, "proposal.approved", "proposal", proposal.id, before,
                 _snapshot(proposal))
    _event(session, "proposal.approved", proposal, need)
    return proposal, None


def _stale(session: Session, actor: Actor, proposal: Proposal, need: Need,
           before: dict[str, Any], reason: str) -> tuple[Proposal, str]:
    proposal.status = "stale"
    proposal.stale_at = utcnow()
    proposal.reason = reason
    session.flush()
    audit.record(session, actor, "proposal.stale", "proposal", proposal.id, before,
                 _snapshot(proposal))
    return proposal, reason


def reject(session: Session, actor: Actor, proposal_id: uuid.UUID, reason: str) -> Proposal:
    proposal = locked(session, proposal_id)
    if proposal.status != "proposed":
        abort(409, f"Only a proposed match can be rejected; this one is {proposal.status}.",
              type="illegal-transition", current_status=proposal.status)
    need = session.get(Need, proposal.need_id)
    before = _snapshot(proposal)
    proposal.status = "rejected"
    proposal.rejected_at = utcnow()
    proposal.decided_by = actor.id
    proposal.reason = reason
    session.flush()
    audit.record(session, actor, "proposal.rejected", "proposal", proposal.id, before,
                 _snapshot(proposal))
    _event(session, "proposal.rejected", proposal, need, reason=reason)
    return proposal


def _require_partner_of(actor: Actor, proposal: Proposal) -> None:
    if actor.role not in PARTNER_ROLES or actor.organisation_id != str(proposal.organisation_id):
        abort(403, "Only the offering organisation may answer this proposal.",
              type="not-your-proposal")


def accept(session: Session, actor: Actor, proposal_id: uuid.UUID) -> Proposal:
    proposal = locked(session, proposal_id)
    _require_partner_of(actor, proposal)
    if proposal.status != "approved":
        abort(409, f"Only an approved match can be accepted; this one is {proposal.status}.",
              type="illegal-transition", current_status=proposal.status)
    need = session.get(Need, proposal.need_id)
    before = _snapshot(proposal)
    proposal.status = "accepted"
    proposal.accepted_at = utcnow()
    session.flush()
    audit.record(session, actor, "proposal.accepted", "proposal", proposal.id, before,
                 _snapshot(proposal))
    _event(session, "proposal.accepted", proposal, need)
    return proposal


def decline(session: Session, actor: Actor, partners: PartnersClient, proposal_id: uuid.UUID,
            reason: str) -> Proposal:
    """The partner says no: the capacity goes back and the need reopens."""
    proposal = locked(session, proposal_id)
    _require_partner_of(actor, proposal)
    if proposal.status not in ("approved", "accepted"):
        abort(409, f"Only an approved match can be declined; this one is {proposal.status}.",
              type="illegal-transition", current_status=proposal.status)
    need = _locked_need(session, proposal.need_id)
    try:
        answer = partners.release(proposal.offer_id, str(proposal.id))
    except ServiceUnavailable:
        session.rollback()
        abort(503, PARTNERS_DOWN, type="partners-unavailable", headers={"Retry-After": "5"})
    if not answer.ok and answer.status != 404:
        session.rollback()
        abort(502, f"The partners service refused the release: {answer.detail}",
              type="partners-refused")
    before = _snapshot(proposal)
    proposal.status = "declined"
    proposal.declined_at = utcnow()
    proposal.reason = reason
    need.covered -= proposal.quantity
    refresh_status(session, need)
    session.flush()
    audit.record(session, actor, "proposal.declined", "proposal", proposal.id, before,
                 _snapshot(proposal))
    _event(session, "proposal.declined", proposal, need, reason=reason)
    return proposal


def confirm_delivery(session: Session, actor: Actor, partners: PartnersClient,
                     proposal_id: uuid.UUID, data: dict[str, Any]) -> Delivery:
    """The coordinator confirms the help arrived, and rates it; the capacity is committed."""
    proposal = locked(session, proposal_id)
    need = _locked_need(session, proposal.need_id)
    if not (actor.is_dp3a or (actor.role == "coordinator" and in_my_regions(actor, need.region))):
        abort(403, "Only the coordinator of this kelurahan (or DP3A) confirms delivery.",
              type="outside-your-regions")
    if proposal.status not in ("approved", "accepted"):
        abort(409, f"Only an approved or accepted match can be confirmed; this one is "
                   f"{proposal.status}.", type="illegal-transition",
              current_status=proposal.status)
    if data["delivered_quantity"] > proposal.quantity:
        invalid("delivered_quantity", f"At most the {proposal.quantity} {proposal.unit} that "
                                      "were approved.")
    try:
        answer = partners.commit(proposal.offer_id, str(proposal.id))
    except ServiceUnavailable:
        session.rollback()
        abort(503, PARTNERS_DOWN, type="partners-unavailable", headers={"Retry-After": "5"})
    if not answer.ok:
        session.rollback()
        abort(502, f"The partners service refused the commitment: {answer.detail}",
              type="partners-refused")
    before = _snapshot(proposal)
    proposal.status = "fulfilled"
    proposal.fulfilled_at = utcnow()
    delivery = Delivery(proposal_id=proposal.id, organisation_id=proposal.organisation_id,
                        confirmed_by=actor.id, **data)
    session.add(delivery)
    session.flush()
    refresh_status(session, need)
    audit.record(session, actor, "proposal.fulfilled", "proposal", proposal.id, before,
                 {**_snapshot(proposal), "rating": delivery.rating,
                  "delivered_quantity": delivery.delivered_quantity})
    _event(session, "delivery.confirmed", proposal, need, rating=delivery.rating,
           delivered_quantity=delivery.delivered_quantity)
    return delivery


def reconcile(session: Session, partners: PartnersClient) -> dict[str, int]:
    """Repair divergence between approved proposals and reservations at partners: a holding
    proposal without a live reservation gets one again (or turns stale); a live reservation
    whose proposal no longer holds capacity is released."""
    fixed = {"reserved": 0, "released": 0, "stale": 0}
    offer_ids = set(session.scalars(select(Proposal.offer_id).where(
        Proposal.status.in_(("approved", "accepted", "fulfilled", "declined", "rejected",
                             "stale", "proposed")))))
    for offer_id in offer_ids:
        live = {entry["reference"]: entry for entry in partners.reservations(offer_id)
                if entry["state"] != "released"}
        proposals = {str(p.id): p for p in session.scalars(select(Proposal).where(
            Proposal.offer_id == offer_id))}
        for reference, entry in live.items():
            proposal = proposals.get(reference)
            if proposal is not None and proposal.status not in ("approved", "accepted",
                                                                "fulfilled"):
                partners.release(offer_id, reference)
                fixed["released"] += 1
        for reference, proposal in proposals.items():
            if proposal.status in ("approved", "accepted") and reference not in live:
                answer = partners.reserve(offer_id, reference, proposal.quantity)
                if answer.ok:
                    fixed["reserved"] += 1
                    continue
                need = _locked_need(session, proposal.need_id)
                before = _snapshot(proposal)
                need.covered -= proposal.quantity
                # Partners never reuses a released reference: say what happened, in our terms.
                reason = ("The capacity held for this match was released at the partners "
                          "service; the need is open for matching again."
                          if answer.problem_type == "reference-released"
                          else answer.detail or "Capacity no longer available.")
                _stale(session, Actor(id="system:reconcile", role="system", kind="service"),
                       proposal, need, before, reason)
                refresh_status(session, need)
                _event(session, "proposal.stale", proposal, need, reason=reason)
                fixed["stale"] += 1
    return fixed
