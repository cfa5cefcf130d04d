"""The portal: server-rendered pages for partners, DP3A and coordinators.

It keeps no business data: every page calls the partners, matching and notify APIs with the
signed-in person's token (clients.py). See README.md in this folder for its extension points."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from services.portal import clients, i18n
from services.portal import config as portal_config
from services.portal.auth import current_user, sign_out
from services.portal.clients import ApiError, ServiceDown
from services.portal.navigation import nav_for
from shared import logging as mitra_logging

log = logging.getLogger("mitra.portal")
csrf = CSRFProtect()

# Pages are plain HTML and CSS from this origin; no script, no frame, no foreign form target.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The portal app; `overrides` replace settings read from the environment."""
    config = portal_config.load()
    config.update(overrides or {})
    app = Flask("portal", template_folder="templates", static_folder="static",
                root_path=__path__[0])
    app.config.update(config)
    mitra_logging.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    clients.init_app(app)

    from services.portal import views

    views.register(app)
    _register_page_helpers(app)
    _register_error_pages(app)
    return app


def _register_page_helpers(app: Flask) -> None:
    @app.context_processor
    def _page_context() -> dict[str, Any]:
        user = current_user()
        return {"current_user": user, "nav": nav_for(user.role if user else None),
                "unread_count": _unread_count, "lang": i18n.select_language(),
                "switch_language_url": _switch_language_url}

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if request.endpoint != "static":
            # Pages show one person's data: never kept by a shared cache or the back button.
            response.headers["Cache-Control"] = "no-store"
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _unread_count() -> int | None:
    """The signed-in person's unread messages for the badge; None when notify is away (the
    page still shows, without the badge)."""
    if current_user() is None:
        return None
    if "unread_count" not in g:
        try:
            g.unread_count = clients.notify().get("/api/v1/inbox/unread-count").data["unread"]
        except (ApiError, ServiceDown):
            g.unread_count = None
    return g.unread_count


def _switch_language_url(language: str) -> str:
    args = request.args.to_dict(flat=False)
    args["lang"] = [language]
    if request.endpoint is None or request.method != "GET":
        return url_for("account.home", lang=language)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _register_error_pages(app: Flask) -> None:
    def page(status: int, title: str, message: str) -> tuple[str, int]:
        return render_template("errors/error.html", status=status, title=title,
                               message=message), status

    @app.errorhandler(ServiceDown)
    def _service_down(error: ServiceDown):  # type: ignore[no-untyped-def]
        log.warning("service down: %s", error)
        return render_template("errors/503.html"), 503, {"Retry-After": "30"}

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        return page(400, _("This form has expired"),
                    _("For your safety the form could not be sent. Go back, reload the page "
                      "and send it again."))

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):  # type: ignore[no-untyped-def]
        """A 4xx that the page itself did not handle."""
        if error.status == 401:
            sign_out()
            flash(_("Your session has ended. Please sign in again."), "info")
            return redirect(url_for("account.sign_in"))
        if error.status == 403:
            return page(403, _("Not allowed"), _("Your role may not see or do this."))
        if error.status == 404:
            return page(404, _("Not found"), _("This page or item does not exist (any more)."))
        if error.status == 429:
            return page(429, _("Too many attempts"),
                        _("Please wait a minute and try again."))
        return page(error.status if 400 <= error.status < 500 else 400,
                    _("This could not be done"), error.detail or error.title)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        titles = {403: _("Not allowed"), 404: _("Not found"), 405: _("Not allowed"),
                  413: _("Too large")}
        messages = {403: _("Your role may not see or do this."),
                    404: _("This page or item does not exist (any more)."),
                    405: _("This page cannot be used this way."),
                    413: _("What you sent is too large.")}
        if status >= 500:
            return _unexpected(error)
        return page(status, titles.get(status, _("Something is not right")),
                    messages.get(status, _("The request could not be handled.")))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        return page(500, _("Something went wrong"),
                    _("Something went wrong on our side; it has been logged. Please try again "
                      "later."))
