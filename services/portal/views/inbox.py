"""Everyone's inbox (notify's in-app messages) and notification preferences."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField

from services.portal.auth import login_required
from services.portal.clients import ApiError, notify
from services.portal.forms import MultiCheckboxField, PortalForm, choices

bp = Blueprint("inbox", __name__)
PAGE_SIZE = 20


@bp.get("/kotak-masuk")
@login_required
def inbox():  # type: ignore[no-untyped-def]
    """My messages, newest first; `?unread=1` only the unread ones."""
    unread_only = request.args.get("unread") == "1"
    page = request.args.get("page", 1, type=int)
    result = notify().get("/api/v1/inbox", params={
        "page": max(page, 1), "page_size": PAGE_SIZE, "unread": str(unread_only).lower()})
    return render_template("inbox/inbox.html", messages=result.data,
                           pagination=result.pagination, unread_only=unread_only)


@bp.post("/kotak-masuk/<uuid:notification_id>/dibaca")
@login_required
def mark_read(notification_id: uuid.UUID):  # type: ignore[no-untyped-def]
    notify().post(f"/api/v1/inbox/{notification_id}/read")
    flash(_("Marked as read."), "success")
    return redirect(url_for("inbox.inbox"))


CHANNEL_LABELS = {"email": _l("Email"), "inapp": _l("Inbox in this portal")}


class PreferencesForm(PortalForm):
    locale = RadioField(_l("Language of my messages"),
                        choices=choices([("id", "Bahasa Indonesia"), ("en", "English")]))
    channels = MultiCheckboxField(_l("Send me messages by"),
                                  choices=choices(CHANNEL_LABELS.items()), validate_choice=False)
    muted = BooleanField(_l("Pause all messages"))
    api_fields = {"preferences": "channels", "preferences.0.channels.0": "channels"}


@bp.route("/preferensi", methods=["GET", "POST"])
@login_required
def preferences():  # type: ignore[no-untyped-def]
    """Language and channels of my messages (the default for every kind of message;
    settings per kind made elsewhere are kept)."""
    try:
        current = notify().get("/api/v1/preferences").data
    except ApiError as error:
        if error.slug != "not-in-directory":
            raise
        return render_template("inbox/not_ready.html"), 409
    others = [p for p in current["preferences"] if p["event_type"] != "*"]
    default = next((p for p in current["preferences"] if p["event_type"] == "*"),
                   {"channels": ["email", "inapp"], "muted": False})
    form = PreferencesForm()
    if request.method == "GET":
        form.locale.data = current["locale"]
        form.channels.data = [c for c in default["channels"] if c in CHANNEL_LABELS]
        form.muted.data = default["muted"]
    if form.validate_on_submit():
        kept = [c for c in default["channels"] if c not in CHANNEL_LABELS]  # webhook, apprise
        body = {"locale": form.locale.data, "preferences": others + [{
            "event_type": "*", "channels": kept + list(form.channels.data or []),
            "muted": bool(form.muted.data)}]}
        try:
            notify().put("/api/v1/preferences", body)
        except ApiError as error:
            if error.status != 422:
                raise
            form.show_api_errors(error)
            return render_template("inbox/preferences.html", form=form), 422
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("inbox.preferences"))
    return render_template("inbox/preferences.html", form=form)
