"""What the DP3A, coordinator and dashboard pages share: words for the APIs' codes, the
topic vocabulary and region names (from partners), and the form of a need."""
from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from typing import Any

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    widgets,
)

from services.portal import labels
from services.portal.clients import partners
from services.portal.forms import (
    IdempotentForm,
    MultiCheckboxField,
    blank_to_none,
    choices,
    whole_number,
)
from services.portal.i18n import select_language

def words() -> dict[str, Any]:
    """The words for the APIs' codes (services/portal/labels.py), for templates."""
    return labels.as_globals()


def topics() -> list[tuple[str, str]]:
    """(code, label in the reader's language) of the active topics, once per request."""
    if "portal_topics" not in g:
        label = "label_en" if select_language() == "en" else "label_id"
        g.portal_topics = [(t["code"], t[label]) for t in partners().get("/api/v1/topics").data]
    return g.portal_topics


def topic_label(code: str) -> str:
    return dict(topics()).get(code, code)


_regions_lock = threading.Lock()


def regions_under(parent: str) -> list[dict[str, Any]]:
    """The regions directly under `parent` (the catalogue never changes while running, so the
    answer is kept for the life of the process)."""
    cache = current_app.extensions.setdefault("portal_regions", {})
    with _regions_lock:
        if parent not in cache:
            cache[parent] = partners().get("/api/v1/regions", params={"parent": parent},
                                           token=None).data
        return cache[parent]


def kelurahan_of(city: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each kecamatan of `city` with its kelurahan (desa), in the catalogue's order."""
    return [(kecamatan, regions_under(kecamatan["code"])) for kecamatan in regions_under(city)]


def parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def day_start_utc(day: date) -> str:
    """The start of a WIB calendar day as an aware ISO time (for the audit log's filters)."""
    from services.portal.i18n import WIB

    return datetime(day.year, day.month, day.day, tzinfo=WIB).astimezone(
        timezone.utc).isoformat()


class NeedForm(IdempotentForm):
    """A need of a programme's class; every rule is the matching API's."""

    programme_id = SelectField(_l("Programme"), choices=[], validate_choice=False)
    kind = RadioField(_l("Kind of help"), choices=choices(labels.KINDS.items()),
                      validate_choice=False)
    title = StringField(_l("Title"))
    description = TextAreaField(_l("Description"))
    topics = MultiCheckboxField(_l("Topics"), choices=[], validate_choice=False)
    quantity = StringField(_l("Quantity"))
    unit = SelectField(_l("Unit"), choices=choices(labels.UNITS.items()), validate_choice=False)
    window_start = StringField(_l("Needed from"), widget=widgets.DateInput())
    window_end = StringField(_l("Needed until"), widget=widgets.DateInput())
    region = StringField(_l("Kelurahan (region code)"))
    priority = SelectField(_l("Priority"), choices=choices((str(n), str(n)) for n in range(5, 0, -1)),
                           default="3", validate_choice=False)
    accepted_modes = MultiCheckboxField(_l("Accepted ways of delivery"),
                                        choices=choices(labels.MODES.items()),
                                        default=["onsite", "online", "hybrid"],
                                        validate_choice=False)
    single_offer = BooleanField(_l("All of it must come from one offer"))

    def body(self) -> dict[str, Any]:
        """The API's request body, as typed (the API says what is wrong)."""
        return {
            "programme_id": self.programme_id.data or None, "kind": self.kind.data or None,
            "title": self.title.data or "", "description": self.description.data or "",
            "topics": list(self.topics.data or []),
            "quantity": whole_number(self.quantity.data, rupiah=self.unit.data == "rupiah"),
            "unit": self.unit.data, "window_start": blank_to_none(self.window_start.data),
            "window_end": blank_to_none(self.window_end.data),
            "region": blank_to_none(self.region.data),
            "priority": int(self.priority.data or 3),
            "accepted_modes": list(self.accepted_modes.data or []),
            "single_offer": bool(self.single_offer.data),
        }
