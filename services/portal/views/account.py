"""Home, signing in and out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, RadioField, StringField, TextAreaField

from services.portal.auth import current_user, sign_in, sign_out
from services.portal.clients import ApiError, partners
from services.portal.forms import (
    IdempotentForm,
    PortalForm,
    SignInForm,
    blank_to_none,
    choices,
    region_codes,
)

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


class RegistrationForm(IdempotentForm):
    kind = RadioField(_l("Your organisation is a"), validate_choice=False, choices=choices([
        ("company", _l("Company")), ("university", _l("University")), ("ngo", _l("NGO"))]))
    name = StringField(_l("Name of the organisation"))
    nib = StringField(_l("NIB (13 digits, companies)"), render_kw={"inputmode": "numeric"})
    npwp = StringField(_l("NPWP (16 digits, companies)"), render_kw={"inputmode": "numeric"})
    pddikti_code = StringField(_l("PDDikti code (6 digits, universities)"),
                               render_kw={"inputmode": "numeric"})
    sector = StringField(_l("Sector (optional)"))
    address = TextAreaField(_l("Address (optional)"))
    address_region = StringField(_l("Region of the address"))
    operating_regions = TextAreaField(_l("Where you operate (optional)"))
    website = StringField(_l("Website (optional)"), render_kw={"type": "url"})
    contact_name = StringField(_l("Contact person"))
    contact_email = StringField(_l("Contact email"), render_kw={"type": "email"})
    contact_phone = StringField(_l("Contact phone"), render_kw={"type": "tel"})
    admin_name = StringField(_l("Your name"))
    admin_email = StringField(_l("Your email (to sign in)"), render_kw={"type": "email"})
    admin_password = PasswordField(_l("Choose a password (at least 10 characters)"))
    api_fields = {"admin.name": "admin_name", "admin.email": "admin_email",
                  "admin.password": "admin_password", "admin": "admin_name"}

    def body(self) -> dict:
        digits = {name: blank_to_none(getattr(self, name).data)
                  for name in ("nib", "npwp", "pddikti_code")}
        return {"kind": self.kind.data or None, "name": (self.name.data or "").strip(),
                **{k: v for k, v in digits.items() if v is not None},
                "sector": blank_to_none(self.sector.data),
                "address": blank_to_none(self.address.data),
                "address_region": (self.address_region.data or "").strip(),
                "operating_regions": region_codes(self.operating_regions.data),
                "website": blank_to_none(self.website.data),
                "contact_name": (self.contact_name.data or "").strip(),
                "contact_email": (self.contact_email.data or "").strip(),
                "contact_phone": (self.contact_phone.data or "").strip(),
                "admin": {"name": (self.admin_name.data or "").strip(),
                          "email": (self.admin_email.data or "").strip(),
                          "password": self.admin_password.data or "",
                          "locale": str(get_locale() or "id")}}


@bp.route("/daftar", methods=["GET", "POST"], endpoint="register")
def register_page():  # type: ignore[no-untyped-def]
    """A company, university or NGO registers with its first administrator; DP3A verifies."""
    form = RegistrationForm()
    if request.method == "GET":
        form.kind.data = request.args.get("kind", "company")
    if form.validate_on_submit():
        body = form.body()
        if body["kind"] is None:
            body.pop("kind")
        try:
            partners().post("/api/v1/organisations", body, token=None,
                            idempotency_key=form.idempotency_key.data)
        except ApiError as error:
            if error.status not in (409, 422):
                raise
            form.show_api_errors(error)
            form.admin_password.data = ""  # never sent back to the browser
            return render_template("account/register.html", form=form), error.status
        flash(_("Thank you: %(name)s is registered and waits for DP3A's verification. You can "
                "sign in now and prepare your offers.", name=body["name"]), "success")
        return redirect(url_for("account.sign_in"))
    return render_template("account/register.html", form=form)


class AcceptInvitationForm(PortalForm):
    name = StringField(_l("Your name"))
    password = PasswordField(_l("Choose a password (at least 10 characters)"))


@bp.route("/undangan/<token>", methods=["GET", "POST"], endpoint="accept_invitation")
def accept_invitation_page(token: str):  # type: ignore[no-untyped-def]
    """The invited colleague chooses a name and password; the account is made at once."""
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            partners().post("/api/v1/invitations/accept", {
                "token": token, "name": (form.name.data or "").strip(),
                "password": form.password.data or "", "locale": str(get_locale() or "id")},
                token=None)
        except ApiError as error:
            if error.status not in (404, 409, 410, 422):
                raise
            if error.status == 422 and "token" in error.errors:
                error.errors = {"_": [_("This invitation link is not valid.")]}
            form.show_api_errors(error)
            return render_template("account/invitation.html", form=form,
                                   token=token), error.status
        flash(_("Your account is ready. Please sign in."), "success")
        return redirect(url_for("account.sign_in"))
    return render_template("account/invitation.html", form=form, token=token)
