"""Templates rendered in a sandbox: unknown variables are errors, money shows as rupiah and
times in WIB."""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from shared.clock import WIB

MONTHS = {
    "id": ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
}


class RenderError(ValueError):
    """A template that uses an unknown variable or does not render."""


def rupiah(amount: Any) -> str:
    """50000000 -> 'Rp 50.000.000' (Indonesian thousands separator)."""
    return "Rp " + f"{int(amount):,}".replace(",", ".")


def _parse(value: Any) -> datetime | date:
    if isinstance(value, (datetime, date)):
        return value
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)


def wib(value: Any, locale: str = "id") -> str:
    """A date, or a time shown in Jakarta time: '29 November 2026, 17.05 WIB'."""
    moment = _parse(value)
    months = MONTHS.get(locale, MONTHS["id"])
    if isinstance(moment, datetime):
        local = moment.astimezone(WIB)
        clock = local.strftime("%H.%M") if locale == "id" else local.strftime("%H:%M")
        return f"{local.day} {months[local.month - 1]} {local.year}, {clock} WIB"
    return f"{moment.day} {months[moment.month - 1]} {moment.year}"


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters["rupiah"] = rupiah
    env.filters["wib"] = wib
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> Template:
    # Compiling costs about a millisecond, rendering a few microseconds: each process compiles
    # a template's text once. Keyed by the text itself, so a new version is a new entry and
    # nothing can go stale. A syntax error is not cached (lru_cache keeps only results).
    return (_HTML if html else _TEXT).from_string(source)


def render(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render `source` with `context`; RenderError says what is wrong."""
    try:
        return _compiled(source, html).render(**context)
    except TemplateError as exc:
        raise RenderError(f"{exc.__class__.__name__}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RenderError(f"{exc.__class__.__name__}: {exc}") from exc


def html_from_text(text: str) -> Markup:
    """A plain message as simple HTML paragraphs (the default HTML body)."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{Markup.escape(p)}</p>".replace("\n", "<br>")
                          for p in paragraphs))
