"""The alternatives of a proposal: the other offers that could serve its need today, scored
and explained as a run would, for DP3A to weigh a proposal against them."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.engine import Offer as EngineOffer
from services.matching.engine import Weights, candidates
from services.matching.models import MatchRun, Proposal
from services.matching.operations.runs import engine_need, track_records
from shared.errors import abort


def for_proposal(session: Session, proposal_id: uuid.UUID,
                 fetch_offers: Callable[[], list[dict[str, Any]]],
                 limit: int) -> list[dict[str, Any]]:
    """The candidate offers for the proposal's need other than its own, best score first,
    scored with the weights of the proposal's run against the current active offers.

    `quantity` is what each offer alone could give the need; `proposal_id` and
    `proposal_status` say where the same run also proposed that offer for the need (a split)."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        abort(404, "No proposal with this id.")
    need = proposal.need
    run = session.get(MatchRun, proposal.run_id)
    weights = Weights.from_dict(run.weights if run and run.weights else None)
    # A need already covered is compared for the proposal's share.
    engine = engine_need(need, None if need.covered < need.quantity else proposal.quantity)
    offers = fetch_offers()
    by_id = {str(o["id"]): o for o in offers}
    found = candidates([engine], [EngineOffer.from_export(o) for o in offers], weights,
                       track_records(session))
    siblings = {str(p.offer_id): p for p in session.scalars(select(Proposal).where(
        Proposal.run_id == proposal.run_id, Proposal.need_id == proposal.need_id,
        Proposal.id != proposal.id))}
    alternatives = []
    for item in found:
        if item.offer_id == str(proposal.offer_id):
            continue
        offer = by_id[item.offer_id]
        sibling = siblings.get(item.offer_id)
        alternatives.append({
            "offer_id": item.offer_id, "offer_title": offer["title"],
            "organisation_id": str(offer["organisation"]["id"]),
            "organisation_name": offer["organisation"]["name"],
            "organisation_kind": offer["organisation"]["kind"],
            "quantity": item.quantity, "unit": need.unit, "offer_remaining": offer["remaining"],
            "score": item.score, "explanation": item.explanation,
            "proposal_id": str(sibling.id) if sibling else None,
            "proposal_status": sibling.status if sibling else None,
        })
        if len(alternatives) >= limit:
            break
    return alternatives
