"""Bahasa Indonesia by default, English on request.

Messages are written in English in the code and templates; their Indonesian is in
translations/id/LC_MESSAGES/messages.po, compiled in memory when the app starts (no .mo
file to build or commit). `?lang=en` or the switch on every page stores the choice in the
session."""
from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, request, session
from flask_babel import Babel, Domain, get_locale

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
WIB = ZoneInfo("Asia/Jakarta")


def compile_catalogue(language: str) -> Translations:
    """The .po file of `language`, compiled in memory (fuzzy entries left out)."""
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


class CatalogueDomain(Domain):
    """Flask-Babel's domain, fed from catalogues compiled at start instead of .mo files."""

    def __init__(self) -> None:
        super().__init__()
        self._catalogues: dict[str, Any] = {
            language: compile_catalogue(language) for language in LANGUAGES
            if (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").exists()}

    def get_translations(self) -> Any:
        locale = get_locale()
        return self._catalogues.get(str(locale)) or NullTranslations()


def select_language() -> str:
    """`?lang=` (remembered), else the session's choice, else Bahasa Indonesia."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def rupiah(amount: Any) -> str:
    """Rp 20.000.000 (dots between thousands, as in Indonesia, in both languages)."""
    if amount is None or amount == "":
        return ""
    return "Rp " + f"{int(amount):,}".replace(",", ".")


def wib(value: Any, with_time: bool = True) -> str:
    """An ISO date or time from an API, shown in Asia/Jakarta time."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return value
    if isinstance(value, datetime):
        local = value.astimezone(WIB) if value.tzinfo else value
        return local.strftime("%d-%m-%Y %H:%M WIB") if with_time else local.strftime("%d-%m-%Y")
    return value.strftime("%d-%m-%Y")


def init_app(app: Flask) -> None:
    babel = Babel(app, locale_selector=select_language, default_locale=DEFAULT_LANGUAGE,
                  default_timezone="Asia/Jakarta")
    # cached_property on Babel's state: set it before any request asks for it.
    app.extensions["babel"].instance.domain_instance = CatalogueDomain()
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["rupiah"] = rupiah
    app.jinja_env.filters["wib"] = wib
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    from services.portal.labels import as_globals

    app.jinja_env.globals["labels"] = as_globals()
    app.extensions["portal_babel"] = babel
