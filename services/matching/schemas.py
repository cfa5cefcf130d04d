"""Request and response shapes of the matching API."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.matching.models import MODES, NEED_KINDS, NEED_STATUSES, PROPOSAL_STATUSES, UNITS
from shared.fields import RegionCode, StrictSchema, Text, WholeNumber, distinct, one_of
from shared.vocabulary import MAX_FUNDING_IDR, UNITS_BY_KIND, quantity_errors


def _window_errors(values: dict, start: str, end: str) -> dict[str, list[str]]:
    if values.get(start) and values.get(end) and values[end] < values[start]:
        return {end: ["The period must end on or after its start."]}
    return {}


def _programme_fields(required: bool) -> dict:
    return {
        "name": Text(min=3, max=200, required=required),
        "region": RegionCode(required=required),
        "period_start": fields.Date(required=required),
        "period_end": fields.Date(required=required),
        "cohort_size": WholeNumber(min=1, max=10_000, required=required),
        "description": Text(max=5000),
    }


class ProgrammeCreateSchema(StrictSchema.from_dict(_programme_fields(True),
                                                   name="ProgrammeFields")):
    @validates_schema
    def _period(self, data: dict, **kwargs: object) -> None:
        errors = _window_errors(data, "period_start", "period_end")
        if errors:
            raise ValidationError(errors)


class ProgrammeUpdateSchema(StrictSchema.from_dict(_programme_fields(False),
                                                   name="ProgrammeUpdateFields")):
    """Any of the programme's attributes."""


class ProgrammeSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(dump_only=True)
    region = fields.String(dump_only=True)
    period_start = fields.Date(dump_only=True)
    period_end = fields.Date(dump_only=True)
    cohort_size = fields.Integer(dump_only=True)
    description = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ProgrammeQueryArgsSchema(StrictSchema):
    region = RegionCode(metadata={"description": "Programmes in this region."})


def check_need_rules(kind: str, values: dict) -> dict[str, list[str]]:
    """Per-kind rules over a whole need (new values merged onto the stored ones)."""
    errors: dict[str, list[str]] = {}
    unit, quantity = values.get("unit"), values.get("quantity")
    errors.update(quantity_errors(kind, unit, quantity, "need"))
    modes = values.get("accepted_modes")
    if kind == "facility" and modes is not None and modes != ["onsite"]:
        errors["accepted_modes"] = ["A facility is used on site: accepted_modes is [onsite]."]
    errors.update(_window_errors(values, "window_start", "window_end"))
    return errors


def _need_fields(required: bool) -> dict:
    defaults = (lambda value: {"load_default": value}) if required else (lambda value: {})
    return {
        "title": Text(min=3, max=200, required=required),
        "description": Text(max=5000, **defaults("")),
        "topics": fields.List(fields.String(validate=validate.Length(max=40)),
                              validate=[validate.Length(min=1, max=10), distinct],
                              required=required,
                              metadata={"description": "Topics, or purposes for funding."}),
        "quantity": WholeNumber(min=1, max=MAX_FUNDING_IDR, required=required),
        "unit": fields.String(validate=one_of(UNITS), required=required),
        "window_start": fields.Date(required=required),
        "window_end": fields.Date(required=required),
        "region": RegionCode(required=required),
        "priority": WholeNumber(min=1, max=5, **defaults(3)),
        "accepted_modes": fields.List(fields.String(validate=one_of(MODES)),
                                      validate=[validate.Length(min=1, max=3), distinct],
                                      **defaults(["onsite", "online", "hybrid"])),
        "single_offer": fields.Boolean(**defaults(False)),
        "excluded_organisations": fields.List(fields.UUID(), validate=[
            validate.Length(max=100), distinct], **defaults([])),
    }


class NeedCreateSchema(StrictSchema.from_dict(_need_fields(True), name="NeedFields")):
    programme_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=one_of(NEED_KINDS))

    @validates_schema
    def _per_kind(self, data: dict, **kwargs: object) -> None:
        if data.get("kind") in UNITS_BY_KIND:
            errors = check_need_rules(data["kind"], data)
            if errors:
                raise ValidationError(errors)


class NeedUpdateSchema(StrictSchema.from_dict(_need_fields(False), name="NeedUpdateFields")):
    """Any of the need's attributes; kind and programme never change."""


class NeedSchema(Schema):
    id = fields.UUID(dump_only=True)
    programme_id = fields.UUID(dump_only=True)
    programme_name = fields.Function(lambda n: n.programme.name, dump_only=True)
    kind = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    topics = fields.List(fields.String(), dump_only=True)
    quantity = fields.Integer(dump_only=True)
    covered = fields.Integer(dump_only=True)
    remaining = fields.Integer(dump_only=True)
    unit = fields.String(dump_only=True)
    window_start = fields.Date(dump_only=True)
    window_end = fields.Date(dump_only=True)
    region = fields.String(dump_only=True)
    priority = fields.Integer(dump_only=True)
    accepted_modes = fields.List(fields.String(), dump_only=True)
    single_offer = fields.Boolean(dump_only=True)
    excluded_organisations = fields.List(fields.String(), dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(NEED_STATUSES)})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class NeedQueryArgsSchema(StrictSchema):
    programme_id = fields.UUID()
    kind = fields.String(validate=one_of(NEED_KINDS))
    status = fields.String(validate=one_of(NEED_STATUSES))
    region = RegionCode(metadata={"description": "Needs in this region (or below it)."})
    topic = fields.String(validate=validate.Length(max=40))


class MatchRunCreateSchema(StrictSchema):
    programme_id = fields.UUID(metadata={"description": "Only this programme's needs."})
    region = RegionCode(metadata={"description": "Only needs in this region."})
    kinds = fields.List(fields.String(validate=one_of(NEED_KINDS)), validate=distinct)
    weights = fields.Dict(keys=fields.String(), values=fields.Float(
        validate=validate.Range(min=0, max=10)), metadata={
        "description": "Score component weights; missing ones take the configured default."})


class MatchRunSchema(Schema):
    id = fields.UUID(dump_only=True)
    status = fields.String(dump_only=True)
    scope = fields.Dict(dump_only=True)
    weights = fields.Dict(dump_only=True)
    phase = fields.String(dump_only=True, allow_none=True)
    progress = fields.Float(dump_only=True)
    phases = fields.Dict(dump_only=True)
    stats = fields.Dict(dump_only=True)
    error = fields.String(dump_only=True, allow_none=True)
    requested_by = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)


class ProposalSchema(Schema):
    id = fields.UUID(dump_only=True)
    run_id = fields.UUID(dump_only=True)
    need_id = fields.UUID(dump_only=True)
    need_title = fields.Function(lambda p: p.need.title, dump_only=True)
    need_region = fields.Function(lambda p: p.need.region, dump_only=True)
    offer_id = fields.UUID(dump_only=True)
    offer_title = fields.String(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    organisation_name = fields.String(dump_only=True)
    organisation_kind = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    unit = fields.String(dump_only=True)
    score = fields.Float(dump_only=True)
    explanation = fields.Dict(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(PROPOSAL_STATUSES)})
    reason = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    approved_at = fields.DateTime(dump_only=True, allow_none=True)
    accepted_at = fields.DateTime(dump_only=True, allow_none=True)
    fulfilled_at = fields.DateTime(dump_only=True, allow_none=True)


class ProposalQueryArgsSchema(StrictSchema):
    run_id = fields.UUID()
    need_id = fields.UUID()
    offer_id = fields.UUID()
    organisation_id = fields.UUID()
    status = fields.String(validate=one_of(PROPOSAL_STATUSES))


class DecisionSchema(StrictSchema):
    proposal_ids = fields.List(fields.UUID(), required=True,
                               validate=[validate.Length(min=1, max=500), distinct])


class RejectionSchema(StrictSchema):
    reason = Text(min=5, max=2000, required=True)


class DeclineSchema(StrictSchema):
    reason = Text(min=5, max=2000, required=True)


class DecisionResultSchema(Schema):
    proposal_id = fields.UUID(dump_only=True)
    status = fields.String(dump_only=True)
    detail = fields.String(dump_only=True, allow_none=True)


class DeliverySchema(StrictSchema):
    delivered_quantity = WholeNumber(min=0, max=MAX_FUNDING_IDR, required=True, metadata={
        "description": "Sessions held, seats used, or rupiah received."})
    rating = WholeNumber(min=1, max=5, required=True)
    notes = Text(max=5000, load_default="")
    facilitator_notes = Text(max=5000, load_default="", metadata={
        "description": "How the facilitators did (the study's facilitator-quality view)."})
    id = fields.UUID(dump_only=True)
    proposal_id = fields.UUID(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    confirmed_by = fields.String(dump_only=True)
    confirmed_at = fields.DateTime(dump_only=True)


class DeliveryRecordSchema(Schema):
    """A confirmed delivery with what it was for: the need, the offer, its unit."""

    id = fields.UUID(dump_only=True)
    proposal_id = fields.UUID(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    organisation_name = fields.Function(lambda d: d.proposal.organisation_name, dump_only=True)
    need_id = fields.Function(lambda d: str(d.proposal.need_id), dump_only=True)
    need_title = fields.Function(lambda d: d.proposal.need.title, dump_only=True)
    need_region = fields.Function(lambda d: d.proposal.need.region, dump_only=True)
    offer_id = fields.Function(lambda d: str(d.proposal.offer_id), dump_only=True)
    offer_title = fields.Function(lambda d: d.proposal.offer_title, dump_only=True)
    unit = fields.Function(lambda d: d.proposal.unit, dump_only=True)
    approved_quantity = fields.Function(lambda d: d.proposal.quantity, dump_only=True)
    delivered_quantity = fields.Integer(dump_only=True)
    rating = fields.Integer(dump_only=True)
    notes = fields.String(dump_only=True)
    facilitator_notes = fields.String(dump_only=True)
    confirmed_by = fields.String(dump_only=True)
    confirmed_at = fields.DateTime(dump_only=True)


class DeliveryQueryArgsSchema(StrictSchema):
    organisation_id = fields.UUID()
    need_id = fields.UUID()


class ReportQueryArgsSchema(StrictSchema):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    region = RegionCode(load_default="32.75")
    format = fields.String(load_default="json", validate=one_of(("json", "csv")))

    @validates_schema
    def _period(self, data: dict, **kwargs: object) -> None:
        errors = _window_errors(data, "period_start", "period_end")
        if errors:
            raise ValidationError(errors)


class AlternativeQueryArgsSchema(StrictSchema):
    limit = fields.Integer(validate=validate.Range(min=1, max=50), load_default=10)


class AlternativeSchema(Schema):
    """Another offer that could serve the proposal's need, scored as a run would today."""

    offer_id = fields.UUID(dump_only=True)
    offer_title = fields.String(dump_only=True)
    organisation_id = fields.UUID(dump_only=True)
    organisation_name = fields.String(dump_only=True)
    organisation_kind = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True, metadata={
        "description": "What this offer alone could give the need."})
    unit = fields.String(dump_only=True)
    offer_remaining = fields.Integer(dump_only=True)
    score = fields.Float(dump_only=True)
    explanation = fields.Dict(dump_only=True)
    proposal_id = fields.UUID(dump_only=True, allow_none=True, metadata={
        "description": "The same run's proposal of this offer for the need, if any."})
    proposal_status = fields.String(dump_only=True, allow_none=True)
