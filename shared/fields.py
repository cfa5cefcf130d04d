"""Marshmallow fields for values every service validates the same way."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from shared.regions import catalogue

NUL_MESSAGE = ("Text may not contain the NUL character (U+0000) or unpaired surrogates "
               "(not valid Unicode).")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(v) for v in value)
    return False


class StrictSchema(Schema):
    """Unknown fields are refused, never silently dropped (marshmallow's default, made explicit).
    Text holding NUL or a lone surrogate is refused too: PostgreSQL cannot store it."""

    class Meta:
        unknown = "raise"
        ordered = True

    @pre_load
    def _refuse_nul(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping):
            errors = {str(key): [NUL_MESSAGE] for key, value in data.items()
                      if _holds_nul(key) or _holds_nul(value)}
            if errors:
                raise ValidationError(errors)
        return data


class Text(fields.String):
    """A string trimmed of surrounding whitespace, within a length range."""

    def __init__(self, min: int = 0, max: int = 200, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=min, max=max), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class RegionCode(fields.String):
    """A Kemendagri region code from the catalogue (e.g. 32.75.11.1004)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        code = super()._deserialize(value, attr, data, **kwargs).strip()
        if not catalogue().is_valid(code):
            raise ValidationError(f"Unknown region code {code!r} (Kemendagri codes, e.g. "
                                  "32.75.11.1004 for Kelurahan Mustikasari).")
        return code


def region_list(min: int = 0, max: int = 500, **kwargs: Any) -> fields.List:
    """A list of distinct region codes."""
    return fields.List(RegionCode(), validate=[validate.Length(min=min, max=max), distinct],
                       **kwargs)


def distinct(values: list[Any]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Each value may appear only once.")


class Digits(fields.String):
    """An identifier made of digits; dots, dashes and spaces in the input are ignored."""

    def __init__(self, lengths: tuple[int, ...], label: str, pad_to: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lengths = lengths
        self.label = label
        self.pad_to = pad_to

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        digits = re.sub(r"[\s.\-]", "", raw)
        if not digits.isdigit() or len(digits) not in self.lengths:
            wanted = " or ".join(str(n) for n in self.lengths)
            raise ValidationError(f"{self.label} must have {wanted} digits.")
        if self.pad_to and len(digits) < self.pad_to:
            digits = digits.rjust(self.pad_to, "0")
        return digits


class Phone(fields.String):
    """An Indonesian phone number, stored as +62…; 08… and 62… are accepted and normalised."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        raw = re.sub(r"[\s\-().]", "", super()._deserialize(value, attr, data, **kwargs))
        if raw.startswith("0"):
            raw = "+62" + raw[1:]
        elif raw.startswith("62"):
            raw = "+" + raw
        if not re.fullmatch(r"\+62[1-9]\d{7,12}", raw):
            raise ValidationError("Use an Indonesian number in +62 form, e.g. +6281234567890.")
        return raw


class Email(fields.Email):
    """An email address, lower-cased so that one person has one account."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(max=254), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value.strip() if isinstance(value, str) else value,
                                    attr, data, **kwargs).lower()


class WholeNumber(fields.Integer):
    """A JSON integer (no floats, strings or booleans) within a range."""

    def __init__(self, min: int = 0, max: int = 10**15, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=min, max=max), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


def one_of(values: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(values, error="Must be one of: {choices}.")
