"""The engine's plain inputs and outputs: needs, offers, track records, weights, results.

Nothing here knows about HTTP or databases: the service turns its rows and the partners
export into these objects (`Need.from_dict`, `Offer.from_export`) and hands them to `match`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

KINDS = ("funding", "module", "trainer", "facility")
MODES = ("onsite", "online", "hybrid")
UNITS = ("rupiah", "sessions", "seats", "units")
MAX_QUANTITY = 100_000_000_000  # Rp 100 miliar, the partners service's own ceiling


class ModelError(ValueError):
    """An input the engine cannot match: says which field of which record is wrong."""


def _date(value: Any, name: str, record: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ModelError(f"{record}: {name} must be a date (YYYY-MM-DD), not {value!r}.")


def _region(value: Any, name: str, record: str) -> str:
    if isinstance(value, str) and value in _VALID_REGIONS:  # few codes recur across offers
        return value
    parts = value.split(".") if isinstance(value, str) else []
    if not parts or len(parts) > 4 or not all(part.isdigit() for part in parts):
        raise ModelError(f"{record}: {name} must be a Kemendagri code like 32.75.11.1004, "
                         f"not {value!r}.")
    if len(_VALID_REGIONS) < 100_000:
        _VALID_REGIONS.add(value)
    return value


_VALID_REGIONS: set[str] = set()


def _quantity(value: Any, name: str, record: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            minimum <= value <= MAX_QUANTITY):
        raise ModelError(f"{record}: {name} must be a whole number from {minimum} to "
                         f"{MAX_QUANTITY}, not {value!r}.")
    return value


def _one_of(value: Any, allowed: tuple[str, ...], name: str, record: str) -> str:
    if value not in allowed:
        raise ModelError(f"{record}: {name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def _codes(value: Any, name: str, record: str) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(item, str) and item for item in value):
        raise ModelError(f"{record}: {name} must be a list of codes.")
    return tuple(dict.fromkeys(value))  # distinct, order kept


@dataclass(frozen=True, slots=True)
class Need:
    """What one class (one kelurahan's women's school) still needs, as the engine sees it.

    `quantity` is what is left to cover, in `unit`. For funding, `topics` are its purposes.
    `single_offer`: the whole quantity must come from one offer, or the need stays open.
    """

    id: str
    kind: str
    topics: tuple[str, ...]
    quantity: int
    unit: str
    window_start: date
    window_end: date
    region: str
    priority: int = 3
    accepted_modes: frozenset[str] = frozenset(MODES)
    single_offer: bool = False
    excluded_organisations: frozenset[str] = frozenset()
    description: str = ""

    def __post_init__(self) -> None:
        record = f"need {self.id}"
        # distinct topics, in order (a repeated topic would count twice in the joins)
        object.__setattr__(self, "topics", _codes(self.topics, "topics", record))
        _one_of(self.kind, KINDS, "kind", record)
        _one_of(self.unit, UNITS, "unit", record)
        _quantity(self.quantity, "quantity", record, 1)
        _region(self.region, "region", record)
        if not self.topics:
            raise ModelError(f"{record}: topics must name at least one topic or purpose.")
        if self.window_end < self.window_start:
            raise ModelError(f"{record}: window_end is before window_start.")
        if isinstance(self.priority, bool) or self.priority not in (1, 2, 3, 4, 5):
            raise ModelError(f"{record}: priority must be 1 to 5, not {self.priority!r}.")
        if not self.accepted_modes or not self.accepted_modes <= set(MODES):
            raise ModelError(f"{record}: accepted_modes must be a non-empty subset of "
                             f"{', '.join(MODES)}.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Need:
        """A need from plain values (the matching service's row or a JSON body)."""
        record = f"need {data.get('id')!r}"
        try:
            topics = data["topics"] if data.get("topics") is not None else data["purposes"]
            return cls(
                id=str(data["id"]),
                kind=data["kind"],
                topics=_codes(topics, "topics", record),
                quantity=_quantity(data["quantity"], "quantity", record, 1),
                unit=data["unit"],
                window_start=_date(data["window_start"], "window_start", record),
                window_end=_date(data["window_end"], "window_end", record),
                region=_region(data["region"], "region", record),
                priority=data.get("priority", 3),
                accepted_modes=frozenset(data.get("accepted_modes") or MODES),
                single_offer=bool(data.get("single_offer", False)),
                excluded_organisations=frozenset(
                    str(org) for org in data.get("excluded_organisations") or ()),
                description=data.get("description") or "",
            )
        except KeyError as missing:
            raise ModelError(f"{record}: {missing.args[0]} is required.") from None


@dataclass(frozen=True, slots=True)
class Organisation:
    """The offering organisation, as the partners export describes it."""

    id: str
    kind: str = "company"
    name: str = ""
    address_region: str | None = None
    operating_regions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Offer:
    """One active offer with what is left of it, from GET /api/v1/export/active-offers."""

    id: str
    kind: str
    topics: tuple[str, ...]
    remaining: int
    unit: str
    available_from: date
    available_to: date
    mode: str
    delivery_regions: tuple[str, ...]
    organisation: Organisation
    title: str = ""
    description: str = ""
    language: str = "id"

    def __post_init__(self) -> None:
        record = f"offer {self.id}"
        object.__setattr__(self, "topics", _codes(self.topics, "topics", record))
        object.__setattr__(self, "delivery_regions",
                           _codes(self.delivery_regions, "delivery_regions", record))
        _one_of(self.kind, KINDS, "kind", record)
        _one_of(self.unit, UNITS, "unit", record)
        _one_of(self.mode, MODES, "mode", record)
        _quantity(self.remaining, "remaining", record, 0)
        if self.available_to < self.available_from:
            raise ModelError(f"{record}: available_to is before available_from.")
        for code in self.delivery_regions:
            _region(code, "delivery_regions", record)

    @classmethod
    def from_export(cls, data: dict[str, Any]) -> Offer:
        """An offer from one item of the partners service's active-offer export."""
        record = f"offer {data.get('id')!r}"
        try:
            org = data["organisation"]
            remaining = data.get("remaining")
            if remaining is None:
                remaining = data["capacity"] - data.get("reserved", 0) - data.get("committed", 0)
            # topics, delivery_regions and remaining are checked once, in __post_init__.
            return cls(
                id=str(data["id"]),
                kind=data["kind"],
                topics=data.get("topics") or (),
                remaining=remaining,
                unit=data["unit"],
                available_from=_date(data["available_from"], "available_from", record),
                available_to=_date(data["available_to"], "available_to", record),
                mode=data["mode"],
                delivery_regions=data.get("delivery_regions") or (),
                organisation=Organisation(
                    id=str(org["id"]), kind=org.get("kind", "company"),
                    name=org.get("name", ""), address_region=org.get("address_region"),
                    operating_regions=_codes(org.get("operating_regions") or (),
                                             "operating_regions", record)),
                title=data.get("title") or "",
                description=data.get("description") or "",
                language=data.get("language") or "id",
            )
        except KeyError as missing:
            raise ModelError(f"{record}: {missing.args[0]} is required.") from None


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """What an organisation has delivered so far: coordinators' ratings and fulfilment."""

    mean_rating: float = 0.0
    ratings: int = 0
    fulfilled: int = 0
    approved: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackRecord:
        """A track record from plain values (mean_rating, ratings, fulfilled, approved)."""
        return cls(float(data.get("mean_rating") or 0.0), int(data.get("ratings") or 0),
                   int(data.get("fulfilled") or 0), int(data.get("approved") or 0))


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each score component counts. The score is their weighted mean, in [0, 1].

    Defaults: topic overlap and proximity matter most (the right subject, delivered close to
    the class); text similarity refines topic overlap; ring 1 rewards a company helping its own
    neighbourhood (CSR's usual scope); the rest break ties between otherwise equal offers.
    """

    topic_fit: float = 3.0
    text_fit: float = 1.0
    proximity: float = 2.0
    ring1: float = 1.0
    window_fit: float = 1.0
    quantity_fit: float = 1.0
    track_record: float = 1.0

    def __post_init__(self) -> None:
        values = self.as_dict().values()
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0
               for v in values):
            raise ModelError("weights must be numbers ≥ 0.")
        if sum(values) <= 0:
            raise ModelError("at least one weight must be above 0.")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Weights:
        """Weights from a mapping of component name to weight; names left out keep defaults."""
        data = dict(data or {})
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ModelError(f"unknown score components: {', '.join(sorted(unknown))}.")
        return cls(**data)

    def as_dict(self) -> dict[str, float]:
        """Component name → weight, in a fixed order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class Proposal:
    """Who should give what to whom: `quantity` of the need's unit from the offer."""

    need_id: str
    offer_id: str
    quantity: int
    score: float
    explanation: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"need_id": self.need_id, "offer_id": self.offer_id, "quantity": self.quantity,
                "score": self.score, "explanation": self.explanation}


@dataclass(slots=True)
class MatchResult:
    """The proposals of one run, what each need got, and the run's figures."""

    proposals: list[Proposal]
    covered: dict[str, int]
    stats: dict[str, Any]
    problems: list[Any] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"proposals": [p.to_dict() for p in self.proposals], "covered": self.covered,
                "stats": self.stats}
