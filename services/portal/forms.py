"""Forms: Flask-WTF for the CSRF token and the fields; the rules themselves stay in the APIs,
whose 422 field errors `PortalForm.show_api_errors` puts next to the fields."""
from __future__ import annotations

import re
import uuid
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectMultipleField,
    widgets,
)

from services.portal.clients import ApiError


class PortalForm(FlaskForm):
    """A form whose validation is the API's: no local rules beyond what a browser needs."""

    # Field names of the API's errors that differ from the form's, e.g. {"admin.email":
    # "admin_email"}; unmatched dotted names fall back to their first part ("topics.0").
    api_fields: dict[str, str] = {}

    def show_api_errors(self, error: ApiError) -> None:
        """Put a 422's field errors next to their fields; the rest (and the detail of other
        problems) goes into `form_errors`, shown above the form."""
        self.form_errors = []
        leftover: list[str] = []
        for name, messages in error.errors.items():
            target = self._field_for(name)
            if target is None:
                leftover.extend(messages)
            else:
                target.errors = list(target.errors or []) + messages
        if leftover or not error.errors:
            self.form_errors.extend(leftover or [error.detail or error.title])

    def _field_for(self, api_name: str) -> Any:
        candidates = [self.api_fields.get(api_name), api_name.replace(".", "_"),
                      self.api_fields.get(api_name.split(".")[0]), api_name.split(".")[0]]
        for candidate in candidates:
            if candidate and candidate in self._fields and candidate != "csrf_token":
                field = self._fields[candidate]
                if not isinstance(field.errors, list):
                    field.errors = list(field.errors or [])
                return field
        return None

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(f.errors for f in self if f.name != "csrf_token")


class IdempotentForm(PortalForm):
    """A create form: a key made when the form is shown makes a double submit harmless
    (the API answers the second with the first's result)."""

    idempotency_key = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.idempotency_key.data:
            self.idempotency_key.data = uuid.uuid4().hex


def blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def region_codes(value: str | None) -> list[str]:
    """Kemendagri codes typed in one field, separated by commas, spaces or new lines."""
    return [code for code in re.split(r"[\s,;]+", value or "") if code]


def whole_number(value: str | None, rupiah: bool = False) -> Any:
    """A count or an amount as typed ("20.000.000", "Rp 5 000 000"): an int when it is one,
    else the text itself, for the API to refuse with its own message."""
    text = (value or "").strip()
    if rupiah:
        text = re.sub(r"^rp\.?\s*", "", text, flags=re.IGNORECASE)
        text = re.sub(r"[.\s]", "", text)
    if re.fullmatch(r"\d{1,15}", text):
        return int(text)
    return text or None


def choices(pairs: Any) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes (e.g. topics)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SignInForm(PortalForm):
    email = EmailField(_l("Email"))
    password = PasswordField(_l("Password"))
    next = HiddenField()


def page_number() -> int:
    """The `page` of a list's query string: 1 when it is missing or not a positive number."""
    return max(request.args.get("page", 1, type=int), 1)
