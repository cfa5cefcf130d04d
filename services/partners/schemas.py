"""Request and response shapes of the partners API."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.partners.models import (
    LOCALES,
    OFFER_KINDS,
    OFFER_MODES,
    OFFER_STATUSES,
    OFFER_UNITS,
    ORGANISATION_KINDS,
    ORGANISATION_STATUSES,
    ROLES,
)
from shared.fields import (
    Digits,
    Email,
    Phone,
    RegionCode,
    StrictSchema,
    Text,
    WholeNumber,
    distinct,
    one_of,
    region_list,
)
from shared.vocabulary import MAX_FUNDING_IDR, MODES_BY_KIND, UNITS_BY_KIND, quantity_errors

Password = lambda **kw: fields.String(  # noqa: E731
    load_only=True, validate=validate.Length(min=10, max=128,
                                             error="Use {min} to {max} characters."), **kw)


# --- organisations -------------------------------------------------------------------------

def _organisation_fields(required: bool) -> dict:
    """Fresh field objects for the editable attributes (required when registering)."""
    return {
        "name": Text(min=2, max=200, required=required),
        "sector": Text(max=100, allow_none=True),
        "address": Text(max=500, allow_none=True),
        "address_region": RegionCode(required=required),
        "operating_regions": region_list(max=200),
        "website": fields.URL(allow_none=True, validate=validate.Length(max=300),
                              schemes={"http", "https"}),
        "contact_name": Text(min=2, max=200, required=required),
        "contact_email": Email(required=required),
        "contact_phone": Phone(required=required),
    }


class AdminAccountSchema(StrictSchema):
    name = Text(min=2, max=200, required=True)
    email = Email(required=True)
    password = Password(required=True)
    locale = fields.String(load_default="id", validate=one_of(LOCALES))


class OrganisationRegistrationSchema(
        StrictSchema.from_dict(_organisation_fields(True), name="OrganisationFields")):
    kind = fields.String(required=True, validate=one_of(("company", "university", "ngo")))
    nib = Digits((13,), "NIB", allow_none=True)
    npwp = Digits((15, 16), "NPWP", pad_to=16, allow_none=True)
    pddikti_code = Digits((6,), "Kode PDDikti", allow_none=True)
    admin = fields.Nested(AdminAccountSchema, required=True)

    @validates_schema
    def _identifiers_by_kind(self, data: dict, **kwargs: object) -> None:
        errors: dict[str, list[str]] = {}
        kind = data.get("kind")
        if kind == "company":
            for name, label in (("nib", "NIB"), ("npwp", "NPWP")):
                if not data.get(name):
                    errors[name] = [f"A company registers with its {label}."]
        if kind == "university" and not data.get("pddikti_code"):
            errors["pddikti_code"] = ["A university registers with its PDDikti code."]
        if kind != "university" and data.get("pddikti_code"):
            errors["pddikti_code"] = ["Only universities have a PDDikti code."]
        if errors:
            raise ValidationError(errors)


class OrganisationUpdateSchema(
        StrictSchema.from_dict(_organisation_fields(False), name="OrganisationUpdateFields")):
    """Any of the editable attributes; identifiers change only through DP3A."""


class OrganisationSchema(Schema):
    id = fields.UUID(dump_only=True)
    kind = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    nib = fields.String(dump_only=True, allow_none=True)
    npwp = fields.String(dump_only=True, allow_none=True)
    pddikti_code = fields.String(dump_only=True, allow_none=True)
    sector = fields.String(dump_only=True, allow_none=True)
    address = fields.String(dump_only=True, allow_none=True)
    address_region = fields.String(dump_only=True)
    operating_regions = fields.List(fields.String(), dump_only=True)
    website = fields.String(dump_only=True, allow_none=True)
    contact_name = fields.String(dump_only=True)
    contact_email = fields.String(dump_only=True)
    contact_phone = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(ORGANISATION_STATUSES)})
    status_reason = fields.String(dump_only=True, allow_none=True)
    is_agency = fields.Boolean(dump_only=True)
    registered_at = fields.DateTime(dump_only=True)
    verified_at = fields.DateTime(dump_only=True, allow_none=True)
    rejected_at = fields.DateTime(dump_only=True, allow_none=True)
    suspended_at = fields.DateTime(dump_only=True, allow_none=True)


class OrganisationQueryArgsSchema(StrictSchema):
    kind = fields.String(validate=one_of(ORGANISATION_KINDS))
    status = fields.String(validate=one_of(ORGANISATION_STATUSES))
    q = Text(min=1, max=100)
    region = RegionCode(metadata={"description": "Address lies in this region."})


class StatusChangeSchema(StrictSchema):
    reason = Text(min=0, max=2000, load_default=None, allow_none=True)


class ReasonRequiredSchema(StrictSchema):
    reason = Text(min=5, max=2000, required=True)


# --- users, invitations, api keys, tokens ---------------------------------------------------

class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.String(dump_only=True)
    region_codes = fields.List(fields.String(), dump_only=True)
    locale = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_login_at = fields.DateTime(dump_only=True, allow_none=True)


class RegistrationResultSchema(Schema):
    organisation = fields.Nested(OrganisationSchema, dump_only=True)
    admin = fields.Nested(UserSchema, dump_only=True)


class SelfUpdateSchema(StrictSchema):
    name = Text(min=2, max=200)
    locale = fields.String(validate=one_of(LOCALES))
    current_password = Password()
    new_password = Password()

    @validates_schema
    def _password_pair(self, data: dict, **kwargs: object) -> None:
        if ("new_password" in data) != ("current_password" in data):
            raise ValidationError("Send current_password with new_password.", "new_password")


class UserAdminUpdateSchema(StrictSchema):
    role = fields.String(validate=one_of(ROLES))
    region_codes = region_list(max=100)
    is_active = fields.Boolean()


class InvitationCreateSchema(StrictSchema):
    email = Email(required=True)
    name = Text(min=2, max=200, allow_none=True)
    role = fields.String(required=True, validate=one_of(ROLES))
    region_codes = region_list(max=100, load_default=list)
    locale = fields.String(load_default="id", validate=one_of(LOCALES))


class InvitationSchema(Schema):
    id = fields.UUID(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True)
    name = fields.String(dump_only=True, allow_none=True)
    role = fields.String(dump_only=True)
    region_codes = fields.List(fields.String(), dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)
    accepted_at = fields.DateTime(dump_only=True, allow_none=True)
    token = fields.String(dump_only=True, metadata={"description": "Shown once, at creation."})


class InvitationAcceptSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=10, max=200))
    name = Text(min=2, max=200, required=True)
    password = Password(required=True)
    locale = fields.String(validate=one_of(LOCALES))


class TokenRequestSchema(StrictSchema):
    grant_type = fields.String(
        required=True, validate=one_of(("password", "api_key", "client_credentials")))
    email = Email()
    password = fields.String(load_only=True, validate=validate.Length(max=128))
    api_key = fields.String(load_only=True, validate=validate.Length(max=200))
    client_id = fields.String(validate=validate.Length(max=100))
    client_secret = fields.String(load_only=True, validate=validate.Length(max=200))

    @validates_schema
    def _credentials_for_grant(self, data: dict, **kwargs: object) -> None:
        needed = {"password": ("email", "password"), "api_key": ("api_key",),
                  "client_credentials": ("client_id", "client_secret")}[data["grant_type"]]
        missing = {name: ["Required for this grant_type."] for name in needed
                   if not data.get(name)}
        if missing:
            raise ValidationError(missing)


class TokenSchema(Schema):
    access_token = fields.String(dump_only=True)
    token_type = fields.String(dump_only=True)
    expires_in = fields.Integer(dump_only=True)


class ApiKeyCreateSchema(StrictSchema):
    name = Text(min=2, max=100, required=True)
    role = fields.String(required=True, validate=one_of(ROLES))


class ApiKeySchema(Schema):
    id = fields.UUID(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    key = fields.String(dump_only=True, metadata={"description": "Shown once, at creation."})


class JwksSchema(Schema):
    keys = fields.List(fields.Dict(), dump_only=True)


# --- topics and regions ---------------------------------------------------------------------

class TopicSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{2,39}$", error="Use 3-40 lower-case letters, digits and _."))
    label_id = Text(min=2, max=120, required=True)
    label_en = Text(min=2, max=120, required=True)
    is_active = fields.Boolean(load_default=True)


class TopicQueryArgsSchema(StrictSchema):
    include_inactive = fields.Boolean(load_default=False)


class RegionSchema(Schema):
    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    level = fields.String(dump_only=True)
    parent_code = fields.String(dump_only=True, allow_none=True)


class RegionQueryArgsSchema(StrictSchema):
    parent = RegionCode(metadata={"description": "List the regions directly under this one; "
                                                 "without it, the provinces."})


# --- offers and capacity --------------------------------------------------------------------

def _offer_fields(required: bool) -> dict:
    """Fresh field objects for an offer's editable attributes (required when creating)."""
    defaults = (lambda value: {"load_default": value}) if required else (lambda value: {})
    return {
        "title": Text(min=3, max=200, required=required),
        "description": Text(max=5000, **defaults("")),
        "topics": fields.List(fields.String(validate=validate.Length(max=40)),
                              validate=[validate.Length(min=1, max=10), distinct],
                              required=required),
        "capacity": WholeNumber(min=1, max=MAX_FUNDING_IDR, required=required),
        "unit": fields.String(validate=one_of(OFFER_UNITS), required=required),
        "available_from": fields.Date(required=required),
        "available_to": fields.Date(required=required),
        "delivery_regions": region_list(min=1, max=500, required=required),
        "mode": fields.String(validate=one_of(OFFER_MODES), required=required),
        "language": fields.String(
            **defaults("id"),
            validate=validate.Regexp(r"^[a-z]{2}$", error="Use an ISO 639-1 code, e.g. id.")),
    }


def check_offer_rules(kind: str, values: dict) -> dict[str, list[str]]:
    """Per-kind rules over a whole offer (new values merged onto the stored ones)."""
    errors: dict[str, list[str]] = {}
    unit, mode, capacity = values.get("unit"), values.get("mode"), values.get("capacity")
    errors.update(quantity_errors(kind, unit, capacity, "offer"))
    if mode is not None and mode not in MODES_BY_KIND[kind]:
        errors["mode"] = [f"A {kind} offer is delivered {', '.join(MODES_BY_KIND[kind])}."]
    start, end = values.get("available_from"), values.get("available_to")
    if start and end and end < start:
        errors["available_to"] = ["The window must end on or after its start."]
    return errors


class OfferCreateSchema(StrictSchema.from_dict(_offer_fields(True), name="OfferFields")):
    kind = fields.String(required=True, validate=one_of(OFFER_KINDS))

    @validates_schema
    def _per_kind(self, data: dict, **kwargs: object) -> None:
        if data.get("kind") in UNITS_BY_KIND:
            errors = check_offer_rules(data["kind"], data)
            if errors:
                raise ValidationError(errors)


class OfferUpdateSchema(StrictSchema.from_dict(_offer_fields(False), name="OfferUpdateFields")):
    """Any of the editable attributes; the kind never changes."""


class OfferSchema(Schema):
    id = fields.UUID(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    organisation_name = fields.Function(lambda o: o.organisation.name, dump_only=True)
    kind = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    topics = fields.List(fields.String(), dump_only=True)
    unit = fields.String(dump_only=True)
    capacity = fields.Integer(dump_only=True)
    reserved = fields.Integer(dump_only=True)
    committed = fields.Integer(dump_only=True)
    remaining = fields.Integer(dump_only=True)
    available_from = fields.Date(dump_only=True)
    available_to = fields.Date(dump_only=True)
    delivery_regions = fields.List(fields.String(), dump_only=True)
    mode = fields.String(dump_only=True)
    language = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(OFFER_STATUSES)})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    submitted_at = fields.DateTime(dump_only=True, allow_none=True)
    activated_at = fields.DateTime(dump_only=True, allow_none=True)
    withdrawn_at = fields.DateTime(dump_only=True, allow_none=True)


class OfferQueryArgsSchema(StrictSchema):
    kind = fields.String(validate=one_of(OFFER_KINDS))
    topic = fields.List(fields.String(validate=validate.Length(max=40)),
                        metadata={"description": "Any of these topics (repeat the parameter)."})
    region = RegionCode(metadata={"description": "Offers delivered in this region."})
    status = fields.String(validate=one_of(OFFER_STATUSES))
    organisation_id = fields.UUID()
    mode = fields.String(validate=one_of(OFFER_MODES))
    available_from = fields.Date(metadata={"description": "Window overlaps this period."})
    available_to = fields.Date()
    q = Text(min=1, max=100, metadata={"description": "Words in the title."})


RESERVATION_REFERENCE = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


class ReservationCreateSchema(StrictSchema):
    reference = fields.String(required=True, validate=validate.Regexp(
        RESERVATION_REFERENCE, error="Use 1-100 letters, digits and . _ : -"))
    quantity = WholeNumber(min=1, max=MAX_FUNDING_IDR, required=True)


class ReservationSchema(Schema):
    id = fields.UUID(dump_only=True)
    offer_id = fields.UUID(dump_only=True)
    reference = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    state = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    committed_at = fields.DateTime(dump_only=True, allow_none=True)
    released_at = fields.DateTime(dump_only=True, allow_none=True)


class CapacitySchema(Schema):
    offer_id = fields.UUID(dump_only=True, attribute="id")
    unit = fields.String(dump_only=True)
    capacity = fields.Integer(dump_only=True)
    reserved = fields.Integer(dump_only=True)
    committed = fields.Integer(dump_only=True)
    remaining = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True)


# --- audit ----------------------------------------------------------------------------------
