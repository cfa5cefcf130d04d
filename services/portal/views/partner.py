"""Companies' and universities' pages: offers, team, proposals, deliveries."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField

from services.portal import labels
from services.portal.auth import PARTNER_ROLES, current_user, roles_required
from services.portal.clients import ApiError, matching, partners
from services.portal.forms import (
    IdempotentForm,
    MultiCheckboxField,
    PortalForm,
    blank_to_none,
    choices,
    page_number,
    region_codes,
    whole_number,
)
from shared.vocabulary import MODES_BY_KIND, UNITS_BY_KIND

bp = Blueprint("partner", __name__)
PAGE_SIZE = 20
partner_only = roles_required(PARTNER_ROLES)


def topic_choices() -> list[tuple[str, str]]:
    """The topic vocabulary, labelled in the reader's language."""
    english = str(get_locale()) == "en"
    return [(t["code"], t["label_en"] if english else t["label_id"])
            for t in partners().get("/api/v1/topics", token=None).data]


# --- offers ----------------------------------------------------------------------------------

class OfferForm(IdempotentForm):
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description"))
    topics = MultiCheckboxField(_l("Topics"), validate_choice=False)
    capacity = StringField(_l("Capacity"))
    unit = RadioField(_l("Counted in"), validate_choice=False)
    available_from = StringField(_l("Available from"), render_kw={"type": "date"})
    available_to = StringField(_l("Available until"), render_kw={"type": "date"})
    delivery_regions = TextAreaField(_l("Delivery regions"))
    mode = RadioField(_l("How it is delivered"), validate_choice=False)
    language = SelectField(_l("Language"), choices=choices(labels.LANGUAGES.items()),
                           validate_choice=False)
    etag = HiddenField()

    def for_kind(self, kind: str) -> OfferForm:
        self.topics.choices = choices(topic_choices())
        self.unit.choices = choices((u, labels.UNITS[u]) for u in UNITS_BY_KIND[kind])
        self.mode.choices = choices((m, labels.MODES[m]) for m in MODES_BY_KIND[kind])
        if request.method == "GET" and not self.unit.data and len(self.unit.choices) == 1:
            self.unit.data = self.unit.choices[0].value
        if request.method == "GET" and not self.mode.data and len(self.mode.choices) == 1:
            self.mode.data = self.mode.choices[0].value
        if kind == "funding":
            self.capacity.label.text = _("Amount (whole rupiah)")
        return self

    def body(self, kind: str) -> dict[str, Any]:
        """The offer as the API takes it; what cannot be read is passed on for the API to
        refuse with its own message."""
        return {"title": (self.title.data or "").strip(),
                "description": (self.description.data or "").strip(),
                "topics": list(self.topics.data or []),
                "capacity": whole_number(self.capacity.data, rupiah=kind == "funding"),
                "unit": self.unit.data or None,
                "available_from": blank_to_none(self.available_from.data),
                "available_to": blank_to_none(self.available_to.data),
                "delivery_regions": region_codes(self.delivery_regions.data),
                "mode": self.mode.data or None, "language": self.language.data or "id"}

    def fill(self, offer: dict[str, Any]) -> None:
        for name in ("title", "description", "topics", "unit", "available_from",
                     "available_to", "mode", "language"):
            getattr(self, name).data = offer.get(name)
        self.capacity.data = str(offer.get("capacity", ""))
        self.delivery_regions.data = ", ".join(offer.get("delivery_regions") or [])


def _without_nones(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


@bp.get("/penawaran")
@partner_only
def offers():  # type: ignore[no-untyped-def]
    """My organisation's offers."""
    page = page_number()
    result = partners().get("/api/v1/offers", params={
        "organisation_id": current_user().organisation_id, "page": page,
        "page_size": PAGE_SIZE})
    return render_template("partner/offers.html", offers=result.data,
                           pagination=result.pagination, kinds=labels.KINDS)


@bp.route("/penawaran/baru/<kind>", methods=["GET", "POST"])
@partner_only
def offer_new(kind: str):  # type: ignore[no-untyped-def]
    if kind not in UNITS_BY_KIND:
        abort(404)
    form = OfferForm().for_kind(kind)
    if form.validate_on_submit():
        try:
            created = partners().post("/api/v1/offers", _without_nones(
                {"kind": kind, **form.body(kind)}), idempotency_key=form.idempotency_key.data)
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            form.show_api_errors(error)
            return render_template("partner/offer_form.html", form=form, kind=kind,
                                   offer=None), error.status
        flash(_("The offer is saved as a draft. Submit it when it is ready."), "success")
        return redirect(url_for("partner.offer", offer_id=created.data["id"]))
    return render_template("partner/offer_form.html", form=form, kind=kind, offer=None)


@bp.get("/penawaran/<uuid:offer_id>")
@partner_only
def offer(offer_id: uuid.UUID):  # type: ignore[no-untyped-def]
    found = partners().get(f"/api/v1/offers/{offer_id}").data
    return render_template("partner/offer.html", offer=found, topics=dict(topic_choices()))


@bp.route("/penawaran/<uuid:offer_id>/ubah", methods=["GET", "POST"])
@partner_only
def offer_edit(offer_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Edit with If-Match: if someone changed the offer meanwhile, nothing is overwritten."""
    current = partners().get(f"/api/v1/offers/{offer_id}")
    kind = current.data["kind"]
    form = OfferForm().for_kind(kind)
    if request.method == "GET":
        form.fill(current.data)
        form.etag.data = current.etag
    if form.validate_on_submit():
        body = form.body(kind)
        try:
            partners().patch(f"/api/v1/offers/{offer_id}", _without_nones(body),
                             headers={"If-Match": form.etag.data or ""})
        except ApiError as error:
            if error.status not in (409, 412, 422, 428):
                raise
            if error.status in (409, 412, 428):
                form.form_errors = [_("Someone changed this offer after you opened it. "
                                      "Nothing was saved. Your changes are still in the form: "
                                      "check them against the offer and send again.")]
                form.etag.data = current.etag
            else:
                form.show_api_errors(error)
            return render_template("partner/offer_form.html", form=form, kind=kind,
                                   offer=current.data), error.status
        flash(_("The offer is saved."), "success")
        return redirect(url_for("partner.offer", offer_id=offer_id))
    return render_template("partner/offer_form.html", form=form, kind=kind, offer=current.data)


def _offer_action(offer_id: uuid.UUID, action: str, done: str):  # type: ignore[no-untyped-def]
    try:
        result = partners().post(f"/api/v1/offers/{offer_id}/{action}")
    except ApiError as error:
        if error.status != 409:
            raise
        flash(error.detail, "error")
        return redirect(url_for("partner.offer", offer_id=offer_id))
    flash(done if result.data["status"] != "submitted"
          else _("The offer is submitted; it goes live once DP3A has verified your "
                 "organisation."), "success")
    return redirect(url_for("partner.offer", offer_id=offer_id))


@bp.post("/penawaran/<uuid:offer_id>/ajukan")
@partner_only
def offer_submit(offer_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _offer_action(offer_id, "submit", _("The offer is submitted and active."))


@bp.post("/penawaran/<uuid:offer_id>/tarik")
@partner_only
def offer_withdraw(offer_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _offer_action(offer_id, "withdraw", _("The offer is withdrawn."))


# --- team --------------------------------------------------------------------------------------

class InvitationForm(IdempotentForm):
    email = StringField(_l("Email"), render_kw={"type": "email"})
    name = StringField(_l("Name (optional)"))
    role = RadioField(_l("Role"), validate_choice=False,
                      choices=choices([
                          ("partner_member", _l("Member: manages offers and proposals")),
                          ("partner_admin", _l("Administrator: also invites colleagues"))]))
    locale = SelectField(_l("Language"), choices=choices(labels.LANGUAGES.items()),
                         validate_choice=False)


@bp.route("/tim", methods=["GET", "POST"])
@partner_only
def team():  # type: ignore[no-untyped-def]
    """My colleagues; administrators invite more."""
    user = current_user()
    form = InvitationForm()
    if request.method == "GET":
        form.role.data = "partner_member"
    invited = None
    status = 200
    if request.method == "POST" and not user.is_admin:
        abort(403)
    if form.validate_on_submit():
        try:
            invited = partners().post(
                f"/api/v1/organisations/{user.organisation_id}/invitations", {
                    "email": (form.email.data or "").strip(), "name": blank_to_none(form.name.data),
                    "role": form.role.data or None, "locale": form.locale.data or "id"},
                idempotency_key=form.idempotency_key.data).data
            flash(_("The invitation is sent to %(email)s.", email=invited["email"]), "success")
            form = InvitationForm(formdata=None)
            form.role.data = "partner_member"
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            form.show_api_errors(error)
            status = error.status
    colleagues = partners().get(f"/api/v1/organisations/{user.organisation_id}/users",
                                params={"page_size": 100}).data if user.is_admin else []
    return render_template("partner/team.html", form=form, colleagues=colleagues,
                           invited=invited), status


# --- proposals ---------------------------------------------------------------------------------

class DeclineForm(PortalForm):
    reason = TextAreaField(_l("Why do you decline?"))


@bp.get("/usulan")
@partner_only
def proposals():  # type: ignore[no-untyped-def]
    """The matches DP3A approved for my organisation's offers, and what became of them."""
    page = page_number()
    result = matching().get("/api/v1/proposals", params={"page": page,
                                                        "page_size": PAGE_SIZE})
    return render_template("partner/proposals.html", proposals=result.data,
                           pagination=result.pagination)


@bp.route("/usulan/<uuid:proposal_id>", methods=["GET", "POST"])
@partner_only
def proposal(proposal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """One proposal with its explanation; accept it, or decline it with a reason."""
    found = matching().get(f"/api/v1/proposals/{proposal_id}").data
    form = DeclineForm()
    status = 200
    if form.validate_on_submit():
        try:
            matching().post(f"/api/v1/proposals/{proposal_id}/decline",
                            {"reason": (form.reason.data or "").strip()})
            flash(_("You declined this proposal; DP3A is told."), "success")
            return redirect(url_for("partner.proposal", proposal_id=proposal_id))
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            form.show_api_errors(error)
            status = error.status
    return render_template("partner/proposal.html", proposal=found, form=form), status


@bp.post("/usulan/<uuid:proposal_id>/terima")
@partner_only
def proposal_accept(proposal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    try:
        matching().post(f"/api/v1/proposals/{proposal_id}/accept")
        flash(_("You accepted this proposal. The coordinator will confirm the delivery."),
              "success")
    except ApiError as error:
        if error.status != 409:
            raise
        flash(error.detail, "error")
    return redirect(url_for("partner.proposal", proposal_id=proposal_id))


# --- deliveries --------------------------------------------------------------------------------

@bp.get("/penyaluran")
@partner_only
def deliveries():  # type: ignore[no-untyped-def]
    """Deliveries the coordinators confirmed for my organisation, with their ratings."""
    page = page_number()
    result = matching().get("/api/v1/deliveries", params={"page": page,
                                                         "page_size": PAGE_SIZE})
    return render_template("partner/deliveries.html", deliveries=result.data,
                           pagination=result.pagination)
