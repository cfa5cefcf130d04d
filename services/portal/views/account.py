"""Home, signing in and out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from services.portal.auth import current_user, sign_in, sign_out
from services.portal.clients import ApiError
from services.portal.forms import SignInForm

bp = Blueprint("account", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) is a place to return to."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    """Signed in: what the person can do; else a welcome with sign-in and registration."""
    return render_template("home.html")


@bp.route("/masuk", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page():  # type: ignore[no-untyped-def]
    form = SignInForm()
    if request.method == "GET":
        form.next.data = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            sign_in((form.email.data or "").strip(), form.password.data or "")
        except ApiError as error:
            if error.status == 429:
                form.form_errors.append(_("Too many attempts. Please wait a minute and try "
                                          "again."))
            elif error.status == 422:
                form.show_api_errors(error)
            else:
                form.form_errors.append(_("The email or password is not right."))
            return render_template("account/sign_in.html", form=form), error.status
        flash(_("Welcome, %(name)s.", name=current_user().name), "success")
        return redirect(_safe_next(form.next.data) or url_for("account.home"))
    return render_template("account/sign_in.html", form=form)


@bp.post("/keluar", endpoint="sign_out")
def sign_out_page():  # type: ignore[no-untyped-def]
    sign_out()
    flash(_("You have signed out."), "info")
    return redirect(url_for("account.home"))


@bp.route("/daftar", methods=["GET", "POST"], endpoint="register")
def register_page():  # type: ignore[no-untyped-def]
    return render_template("home.html")
