"""DP3A officers' pages: the verification queue, programmes and their needs, match runs and
their progress, reviewing and deciding proposals (one or many), the audit log."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, widgets

from services.portal import labels
from services.portal.auth import DP3A_ROLES, roles_required
from services.portal.clients import ApiError, ServiceDown, matching, partners
from services.portal.forms import (
    IdempotentForm,
    MultiCheckboxField,
    PortalForm,
    blank_to_none,
    choices,
    page_number,
    whole_number,
)
from services.portal.views.reference import (
    NeedForm,
    day_start_utc,
    parse_date,
    topics,
    words,
)

bp = Blueprint("dp3a", __name__, url_prefix="/dp3a")
PAGE_SIZE = 25
ACTIVE_RUN = ("queued", "running")
POLL_SECONDS = 2  # how often a running run's page asks for its progress


@bp.context_processor
def _words() -> dict[str, Any]:
    return {"words": words()}


# --- the verification queue ------------------------------------------------------------------

class ReasonForm(PortalForm):
    reason = TextAreaField(_l("Reason"))


ORGANISATION_ACTIONS = {"verify": _l("The organisation is verified."),
                        "reject": _l("The organisation is rejected."),
                        "suspend": _l("The organisation is suspended."),
                        "reinstate": _l("The organisation is verified again.")}


@bp.get("/verifikasi")
@roles_required(DP3A_ROLES)
def verification():  # type: ignore[no-untyped-def]
    """Organisations awaiting verification (or of another status), oldest first."""
    status = request.args.get("status", "pending")
    if status not in ("pending", "verified", "rejected", "suspended"):
        status = "pending"
    page = page_number()
    result = partners().get("/api/v1/organisations", params={
        "status": status, "page": page, "page_size": PAGE_SIZE})
    return render_template("dp3a/verification.html", organisations=result.data,
                           page_meta=result.pagination, status=status)


def _organisation_page(organisation_id: uuid.UUID, form: ReasonForm | None = None,
                       status: int = 200):  # type: ignore[no-untyped-def]
    organisation = partners().get(f"/api/v1/organisations/{organisation_id}").data
    users = partners().get(f"/api/v1/organisations/{organisation_id}/users").data
    return render_template("dp3a/organisation.html", organisation=organisation, users=users,
                           form=form or ReasonForm(formdata=None)), status


@bp.get("/verifikasi/<uuid:organisation_id>")
@roles_required(DP3A_ROLES)
def organisation(organisation_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _organisation_page(organisation_id)


@bp.post("/verifikasi/<uuid:organisation_id>/<action>")
@roles_required(DP3A_ROLES)
def organisation_action(organisation_id: uuid.UUID, action: str):  # type: ignore[no-untyped-def]
    """Verify, reject (reason), suspend (reason) or reinstate: the API keeps the rules."""
    if action not in ORGANISATION_ACTIONS:
        abort(404)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    body = {"reason": blank_to_none(form.reason.data)} if action in ("reject", "suspend") else {}
    try:
        partners().post(f"/api/v1/organisations/{organisation_id}/{action}", body)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        form.show_api_errors(error)
        return _organisation_page(organisation_id, form, error.status)
    flash(ORGANISATION_ACTIONS[action], "success")
    if action in ("verify", "reject"):
        return redirect(url_for("dp3a.verification"))
    return redirect(url_for("dp3a.organisation", organisation_id=organisation_id))


# --- programmes and needs ----------------------------------------------------------------

class ProgrammeForm(IdempotentForm):
    name = StringField(_l("Name"))
    region = StringField(_l("Kelurahan (region code)"))
    period_start = StringField(_l("Starts"), widget=widgets.DateInput())
    period_end = StringField(_l("Ends"), widget=widgets.DateInput())
    cohort_size = StringField(_l("Participants"))
    description = TextAreaField(_l("Description"))

    def body(self) -> dict[str, Any]:
        return {"name": self.name.data or "", "region": blank_to_none(self.region.data),
                "period_start": blank_to_none(self.period_start.data),
                "period_end": blank_to_none(self.period_end.data),
                "cohort_size": whole_number(self.cohort_size.data),
                "description": self.description.data or ""}


@bp.get("/program")
@roles_required(DP3A_ROLES)
def programmes():  # type: ignore[no-untyped-def]
    page = page_number()
    result = matching().get("/api/v1/programmes", params={"page": page,
                                                          "page_size": PAGE_SIZE})
    return render_template("dp3a/programmes.html", programmes=result.data,
                           page_meta=result.pagination)


@bp.route("/program/baru", methods=["GET", "POST"])
@roles_required(DP3A_ROLES)
def new_programme():  # type: ignore[no-untyped-def]
    form = ProgrammeForm()
    if form.validate_on_submit():
        try:
            created = matching().post("/api/v1/programmes", form.body(),
                                      idempotency_key=form.idempotency_key.data).data
        except ApiError as error:
            if error.status != 422:
                raise
            form.show_api_errors(error)
            return render_template("dp3a/programme_form.html", form=form), 422
        flash(_("The programme is created."), "success")
        return redirect(url_for("dp3a.programme", programme_id=created["id"]))
    return render_template("dp3a/programme_form.html", form=form)


@bp.get("/program/<uuid:programme_id>")
@roles_required(DP3A_ROLES)
def programme(programme_id: uuid.UUID):  # type: ignore[no-untyped-def]
    found = matching().get(f"/api/v1/programmes/{programme_id}").data
    needs = matching().get("/api/v1/needs", params={"programme_id": str(programme_id),
                                                    "page_size": 100}).data
    return render_template("dp3a/programme.html", programme=found, needs=needs)


def need_form(programmes: list[dict[str, Any]], default_programme: str | None) -> NeedForm:
    """The need form with its programme and topic choices (for DP3A and coordinators)."""
    form = NeedForm()
    form.programme_id.choices = choices(
        (p["id"], f"{p['name']} ({p['region']})") for p in programmes)
    form.topics.choices = choices(topics())
    if request.method == "GET":
        form.programme_id.data = default_programme
        chosen = next((p for p in programmes if p["id"] == default_programme), None)
        if chosen:
            form.region.data = chosen["region"]
            form.window_start.data = chosen["period_start"]
            form.window_end.data = chosen["period_end"]
    return form


@bp.route("/program/<uuid:programme_id>/kebutuhan/baru", methods=["GET", "POST"])
@roles_required(DP3A_ROLES)
def new_need(programme_id: uuid.UUID):  # type: ignore[no-untyped-def]
    found = matching().get(f"/api/v1/programmes/{programme_id}").data
    form = need_form([found], found["id"])
    if form.validate_on_submit():
        try:
            matching().post("/api/v1/needs", form.body(),
                            idempotency_key=form.idempotency_key.data)
        except ApiError as error:
            if error.status != 422:
                raise
            form.show_api_errors(error)
            return render_template("dp3a/need_form.html", form=form, programme=found), 422
        flash(_("The need is posted."), "success")
        return redirect(url_for("dp3a.programme", programme_id=programme_id))
    return render_template("dp3a/need_form.html", form=form, programme=found)


# --- match runs --------------------------------------------------------------------------

class RunForm(IdempotentForm):
    programme_id = SelectField(_l("Programme"), choices=[], validate_choice=False)
    region = StringField(_l("Region (code)"))
    kinds = MultiCheckboxField(_l("Kinds of help"), choices=choices(labels.KINDS.items()),
                               validate_choice=False)


def _run_form() -> RunForm:
    form = RunForm()
    listed = matching().get("/api/v1/programmes", params={"page_size": 100}).data
    form.programme_id.choices = choices(
        [("", _("All programmes"))] + [(p["id"], p["name"]) for p in listed])
    return form


@bp.get("/pencocokan")
@roles_required(DP3A_ROLES)
def runs():  # type: ignore[no-untyped-def]
    form = _run_form()
    if request.method == "GET" and request.args.get("programme_id"):
        form.programme_id.data = request.args["programme_id"]
    result = matching().get("/api/v1/match-runs", params={"page_size": 20})
    return render_template("dp3a/runs.html", form=form, runs=result.data)


@bp.post("/pencocokan")
@roles_required(DP3A_ROLES)
def start_run():  # type: ignore[no-untyped-def]
    form = _run_form()
    if not form.validate_on_submit():
        abort(400)
    body: dict[str, Any] = {}
    if form.programme_id.data:
        body["programme_id"] = form.programme_id.data
    if blank_to_none(form.region.data):
        body["region"] = blank_to_none(form.region.data)
    if form.kinds.data:
        body["kinds"] = list(form.kinds.data)
    try:
        run = matching().post("/api/v1/match-runs", body,
                              idempotency_key=form.idempotency_key.data).data
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        form.show_api_errors(error)
        result = matching().get("/api/v1/match-runs", params={"page_size": 20})
        return render_template("dp3a/runs.html", form=form, runs=result.data), error.status
    flash(_("The match run has started."), "success")
    return redirect(url_for("dp3a.run", run_id=run["id"]))


class DecideManyForm(PortalForm):
    proposal_ids = SelectMultipleField(_l("Proposals"), choices=[], validate_choice=False)


@bp.get("/pencocokan/<uuid:run_id>")
@roles_required(DP3A_ROLES)
def run(run_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """The run's progress (static/run-progress.js follows it while it works, then reloads
    the page; without scripts a link refreshes it), then its proposals."""
    found = matching().get(f"/api/v1/match-runs/{run_id}").data
    proposals: list[dict[str, Any]] = []
    if found["status"] == "succeeded":
        proposals = matching().get("/api/v1/proposals", params={
            "run_id": str(run_id), "page_size": 100}).data
    return render_template("dp3a/run.html", run=found, proposals=proposals,
                           form=DecideManyForm(formdata=None),
                           active=found["status"] in ACTIVE_RUN, **_progress(found))


@bp.get("/pencocokan/<uuid:run_id>/kemajuan")
@roles_required(DP3A_ROLES)
def run_progress(run_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """The run's progress for the page's script: percent, phase in words, still working."""
    found = matching().get(f"/api/v1/match-runs/{run_id}").data
    return {"status": found["status"], "active": found["status"] in ACTIVE_RUN,
            "poll_ms": POLL_SECONDS * 1000, **_progress(found)}


def _progress(run: dict[str, Any]) -> dict[str, Any]:
    phase = run.get("phase")
    return {"percent": round(100 * float(run.get("progress") or 0)),
            "phase_label": str(words()["phases"].get(phase, phase)) if phase else ""}


@bp.post("/usulan/setujui")
@roles_required(DP3A_ROLES)
def approve_many():  # type: ignore[no-untyped-def]
    """Approve the ticked proposals in one call; each one's outcome is said."""
    form = DecideManyForm()
    if not form.validate_on_submit():
        abort(400)
    back = _back_to_run(request.form.get("run_id"))
    ids = [i for i in (form.proposal_ids.data or []) if i]
    if not ids:
        flash(_("Tick at least one proposal to approve."), "error")
        return redirect(back)
    results = matching().post("/api/v1/proposals/approve", {"proposal_ids": ids}).data
    approved = sum(1 for r in results if r["status"] == "approved")
    flash(_("%(approved)s of %(total)s proposals approved.", approved=approved,
            total=len(results)), "success" if approved == len(results) else "info")
    for result in results:
        if result["status"] != "approved":
            flash(_("Not approved: %(detail)s", detail=result.get("detail") or result["status"]),
                  "error")
    return redirect(back)


def _back_to_run(run_id: str | None) -> str:
    try:
        return url_for("dp3a.run", run_id=uuid.UUID(run_id or ""))
    except ValueError:
        return url_for("dp3a.runs")


def _proposal_page(proposal_id: uuid.UUID, form: ReasonForm | None = None,
                   status: int = 200):  # type: ignore[no-untyped-def]
    proposal = matching().get(f"/api/v1/proposals/{proposal_id}").data
    alternatives: list[dict[str, Any]] = []
    alternatives_down = False
    try:
        alternatives = matching().get(f"/api/v1/proposals/{proposal_id}/alternatives",
                                      params={"limit": 5}).data
    except ServiceDown:  # the comparison is a help, not the decision: the page still shows
        alternatives_down = True
    columns = [{"title": proposal["offer_title"], "organisation": proposal["organisation_name"],
                "score": proposal["score"], "quantity": proposal["quantity"],
                "explanation": proposal["explanation"], "is_proposal": True}]
    columns += [{"title": a["offer_title"], "organisation": a["organisation_name"],
                 "score": a["score"], "quantity": a["quantity"],
                 "explanation": a["explanation"], "is_proposal": False,
                 "proposal_status": a["proposal_status"]} for a in alternatives]
    return render_template("dp3a/proposal.html", proposal=proposal, columns=columns,
                           alternatives=alternatives,
                           form=form or ReasonForm(formdata=None),
                           alternatives_down=alternatives_down), status


@bp.get("/usulan/<uuid:proposal_id>")
@roles_required(DP3A_ROLES)
def proposal(proposal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _proposal_page(proposal_id)


@bp.post("/usulan/<uuid:proposal_id>/setujui")
@roles_required(DP3A_ROLES)
def approve(proposal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    try:
        result = matching().post(f"/api/v1/proposals/{proposal_id}/approve").data
    except ApiError as error:
        if error.status != 409:
            raise
        flash(error.detail or error.title, "error")
        return redirect(url_for("dp3a.proposal", proposal_id=proposal_id))
    if result["status"] == "approved":
        flash(_("The proposal is approved; the capacity is reserved."), "success")
    else:
        flash(_("Not approved: %(detail)s", detail=result.get("reason") or result["status"]),
              "error")
    return redirect(url_for("dp3a.run", run_id=result["run_id"]))


@bp.post("/usulan/<uuid:proposal_id>/tolak")
@roles_required(DP3A_ROLES)
def reject(proposal_id: uuid.UUID):  # type: ignore[no-untyped-def]
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        result = matching().post(f"/api/v1/proposals/{proposal_id}/reject",
                                 {"reason": form.reason.data or ""}).data
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        form.show_api_errors(error)
        return _proposal_page(proposal_id, form, error.status)
    flash(_("The proposal is rejected."), "success")
    return redirect(url_for("dp3a.run", run_id=result["run_id"]))


# --- the audit log -----------------------------------------------------------------------

AUDIT_SOURCES = {"partners": _l("Partners and offers"),
                 "matching": _l("Programmes, needs and matches")}


@bp.get("/audit")
@roles_required(DP3A_ROLES)
def audit():  # type: ignore[no-untyped-def]
    """Both services' audit logs, filtered by object, actor, action and WIB days."""
    source = request.args.get("source", "partners")
    if source not in AUDIT_SOURCES:
        source = "partners"
    filters = {name: (request.args.get(name) or "").strip()
               for name in ("object_type", "object_id", "actor_id", "action")}
    params: dict[str, Any] = {k: v for k, v in filters.items() if v}
    since, until = parse_date(request.args.get("since")), parse_date(request.args.get("until"))
    if since:
        params["since"] = day_start_utc(since)
    if until:
        params["until"] = day_start_utc(until + timedelta(days=1))
    page = page_number()
    client = partners() if source == "partners" else matching()
    error = None
    entries: list[dict[str, Any]] = []
    pagination: dict[str, Any] = {}
    try:
        result = client.get("/api/v1/audit-log", params={**params, "page": page,
                                                          "page_size": PAGE_SIZE})
        entries, pagination = result.data, result.pagination
    except ApiError as problem:
        if problem.status != 422:
            raise
        error = problem
    return render_template("dp3a/audit.html", entries=entries, page_meta=pagination,
                           sources=AUDIT_SOURCES, source=source, filters=filters,
                           since=request.args.get("since", ""),
                           until=request.args.get("until", ""), error=error,
                           args={k: v for k, v in request.args.items() if k != "page"}), (
        422 if error else 200)
