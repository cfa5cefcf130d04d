"""Coordinators' pages: their kelurahan's needs, the help approved for them, and confirming
a delivery with a rating and notes. The matching API keeps each coordinator to her regions."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, StringField, TextAreaField

from services.portal.auth import COORDINATOR, current_user, roles_required
from services.portal.clients import ApiError, matching
from services.portal.forms import PortalForm, choices, page_number, whole_number
from services.portal.views.dp3a import need_form
from services.portal.views.reference import words

bp = Blueprint("coordinator", __name__, url_prefix="/koordinator")
HELP_STATUSES = ("approved", "accepted", "fulfilled")


@bp.context_processor
def _words() -> dict[str, Any]:
    return {"words": words()}


def _my_programmes() -> list[dict[str, Any]]:
    """The programmes in the coordinator's regions (and those whose region holds hers)."""
    found: dict[str, dict[str, Any]] = {}
    for code in current_user().region_codes:  # type: ignore[union-attr]
        for programme in matching().get("/api/v1/programmes", params={
                "region": code, "page_size": 100}).data:
            found[programme["id"]] = programme
    return sorted(found.values(), key=lambda p: p["name"])


@bp.get("/kebutuhan")
@roles_required(COORDINATOR)
def needs():  # type: ignore[no-untyped-def]
    status = request.args.get("status") or None
    page = page_number()
    params: dict[str, Any] = {"page": page, "page_size": 50}
    if status in words()["statuses"]:
        params["status"] = status
    result = matching().get("/api/v1/needs", params=params)
    return render_template("coordinator/needs.html", needs=result.data,
                           page_meta=result.pagination, status=status)


@bp.route("/kebutuhan/baru", methods=["GET", "POST"])
@roles_required(COORDINATOR)
def new_need():  # type: ignore[no-untyped-def]
    programmes = _my_programmes()
    form = need_form(programmes, request.args.get("programme_id")
                     or (programmes[0]["id"] if programmes else None))
    if request.method == "GET" and not form.region.data and current_user().region_codes:
        form.region.data = current_user().region_codes[0]  # type: ignore[union-attr]
    if form.validate_on_submit():
        try:
            created = matching().post("/api/v1/needs", form.body(),
                                      idempotency_key=form.idempotency_key.data).data
        except ApiError as error:
            if error.status != 422:
                raise
            form.show_api_errors(error)
            return render_template("coordinator/need_form.html", form=form,
                                   programmes=programmes), 422
        flash(_("The need is posted."), "success")
        return redirect(url_for("coordinator.need", need_id=created["id"]))
    return render_template("coordinator/need_form.html", form=form, programmes=programmes)


@bp.get("/kebutuhan/<uuid:need_id>")
@roles_required(COORDINATOR)
def need(need_id: uuid.UUID):  # type: ignore[no-untyped-def]
    found = matching().get(f"/api/v1/needs/{need_id}").data
    proposals = matching().get("/api/v1/proposals", params={
        "need_id": str(need_id), "page_size": 100}).data
    helping = [p for p in proposals if p["status"] in HELP_STATUSES]
    return render_template("coordinator/need.html", need=found, proposals=helping,
                           form=PortalForm(formdata=None))


@bp.post("/kebutuhan/<uuid:need_id>/batal")
@roles_required(COORDINATOR)
def cancel_need(need_id: uuid.UUID):  # type: ignore[no-untyped-def]
    if not PortalForm().validate_on_submit():
        abort(400)
    try:
        matching().post(f"/api/v1/needs/{need_id}/cancel")
    except ApiError as error:
        if error.status != 409:
            raise
        flash(error.detail or error.title, "error")
        return redirect(url_for("coordinator.need", need_id=need_id))
    flash(_("The need is cancelled."), "success")
    return redirect(url_for("coordinator.needs"))


@bp.get("/bantuan")
@roles_required(COORDINATOR)
def proposals():  # type: ignore[no-untyped-def]
    """Help approved for my kelurahan: to be delivered, and delivered."""
    found = {status: matching().get("/api/v1/proposals", params={
        "status": status, "page_size": 100}).data for status in HELP_STATUSES}
    return render_template("coordinator/proposals.html",
                           waiting=found["approved"] + found["accepted"],
                           delivered=found["fulfilled"])


RATINGS = [("5", _l("5 – excellent")), ("4", _l("4 – good")), ("3", _l("3 – fair")),
           ("2", _l("2 – poor")), ("1", _l("1 – very poor"))]


class DeliveryForm(PortalForm):
    delivered_quantity = StringField(_l("How much was delivered"))
    rating = RadioField(_l("Rating"), choices=choices(RATINGS), validate_choice=False)
    notes = TextAreaField(_l("Notes"))
    facilitator_notes = TextAreaField(_l("How did the facilitators do?"))


@bp.route("/bantuan/<uuid:proposal_id>/diterima", methods=["GET", "POST"])
@roles_required(COORDINATOR)
def delivery(proposal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Confirm that the help arrived, and rate it (1 to 5)."""
    proposal = matching().get(f"/api/v1/proposals/{proposal_id}").data
    form = DeliveryForm()
    if request.method == "GET":
        form.delivered_quantity.data = str(proposal["quantity"])
    if form.validate_on_submit():
        body = {"delivered_quantity": whole_number(form.delivered_quantity.data,
                                                   rupiah=proposal["unit"] == "rupiah"),
                "rating": whole_number(form.rating.data),
                "notes": form.notes.data or "",
                "facilitator_notes": form.facilitator_notes.data or ""}
        try:
            matching().post(f"/api/v1/proposals/{proposal_id}/delivery", body)
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            form.show_api_errors(error)
            return render_template("coordinator/delivery.html", form=form,
                                   proposal=proposal), error.status
        flash(_("Thank you: the delivery is confirmed and rated."), "success")
        return redirect(url_for("coordinator.proposals"))
    return render_template("coordinator/delivery.html", form=form, proposal=proposal)
