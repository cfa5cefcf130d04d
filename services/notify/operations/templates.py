"""Versioned templates: the current words of each event type, channel and language."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify.catalogue import BY_TYPE, KINDS, sample_context
from services.notify.models import LOCALES, TEMPLATED_CHANNELS, Template
from services.notify.rendering import RenderError, html_from_text, render
from shared import audit
from shared.audit import Actor
from shared.errors import abort


def current(session: Session, event_type: str, channel: str, locale: str) -> Template | None:
    return session.scalar(select(Template).where(
        Template.event_type == event_type, Template.channel == channel,
        Template.locale == locale).order_by(Template.version.desc()).limit(1))


def current_all(session: Session) -> list[Template]:
    """The newest version of every template."""
    newest = select(Template.event_type, Template.channel, Template.locale,
                    sa.func.max(Template.version).label("version")).group_by(
        Template.event_type, Template.channel, Template.locale).subquery()
    return list(session.scalars(select(Template).join(newest, sa.and_(
        Template.event_type == newest.c.event_type, Template.channel == newest.c.channel,
        Template.locale == newest.c.locale, Template.version == newest.c.version)).order_by(
        Template.event_type, Template.channel, Template.locale)))


def check(event_type: str, locale: str, subject: str, body_text: str,
          body_html: str | None) -> dict[str, str]:
    """Render against the event's example payload; 422 naming the part that fails."""
    if event_type not in BY_TYPE:
        abort(404, f"No event type {event_type!r}.")
    context = sample_context(event_type, locale)
    rendered: dict[str, str] = {}
    for part, source, html in (("subject", subject, False), ("body_text", body_text, False),
                               ("body_html", body_html, True)):
        if source is None:
            continue
        try:
            rendered[part] = render(source, context, html=html)
        except RenderError as exc:
            abort(422, "The template does not render with this event's variables.",
                  type="template-error", errors={part: [str(exc)]},
                  variables=sorted(context))
    return rendered


def save_version(session: Session, actor: Actor, event_type: str, channel: str, locale: str,
                 data: dict[str, Any]) -> Template:
    """A new version of a template, after it renders cleanly."""
    if channel not in TEMPLATED_CHANNELS or locale not in LOCALES:
        abort(404, f"No template for channel {channel!r} and language {locale!r}.")
    check(event_type, locale, data["subject"], data["body_text"], data.get("body_html"))
    latest = current(session, event_type, channel, locale)
    template = Template(event_type=event_type, channel=channel, locale=locale,
                        version=(latest.version if latest else 0) + 1, created_by=actor.id,
                        subject=data["subject"], body_text=data["body_text"],
                        body_html=data.get("body_html") if channel == "email" else None)
    session.add(template)
    session.flush()
    audit.record(session, actor, "template.saved", "template",
                 f"{event_type}/{channel}/{locale}",
                 {"version": latest.version} if latest else None,
                 {"version": template.version, "subject": template.subject})
    return template


def defaults() -> list[dict[str, Any]]:
    """Version 1 of every template, from the catalogue (the migration seeds these)."""
    rows = []
    for kind in KINDS:
        for locale, (subject, text) in kind.words.items():
            for channel in TEMPLATED_CHANNELS:
                rows.append({
                    "event_type": kind.event_type, "channel": channel, "locale": locale,
                    "version": 1, "subject": subject, "body_text": text,
                    "body_html": _default_html(text) if channel == "email" else None,
                })
    return rows


def _default_html(text: str) -> str:
    # The HTML body is the text, paragraph by paragraph, inside a plain layout.
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    inner = "".join("<p>" + p.replace("\n", "<br>") + "</p>" for p in paragraphs)
    return ('<div style="font-family: sans-serif; max-width: 560px">' + inner +
            '<p style="color:#555">Mitra · DP3A</p></div>')


__all__ = ["check", "current", "current_all", "defaults", "html_from_text", "save_version"]
