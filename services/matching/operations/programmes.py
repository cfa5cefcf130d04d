"""Programmes: a kelurahan's Sekoper Cinta class for a period, e.g. Mustikasari 2027."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from services.matching.models import Programme
from shared import audit
from shared.audit import Actor
from shared.errors import abort, invalid

PROGRAMME_FIELDS = ("name", "region", "period_start", "period_end", "cohort_size",
                    "description")


def snapshot(programme: Programme) -> dict[str, Any]:
    return {name: (str(value) if name.startswith("period") else value)
            for name in PROGRAMME_FIELDS for value in [getattr(programme, name)]}


def create(session: Session, actor: Actor, data: dict[str, Any]) -> Programme:
    programme = Programme(**data, created_by=actor.id)
    session.add(programme)
    session.flush()
    audit.record(session, actor, "programme.created", "programme", programme.id, None,
                 snapshot(programme))
    return programme


def get(session: Session, programme_id: uuid.UUID) -> Programme:
    programme = session.get(Programme, programme_id)
    if programme is None:
        abort(404, "No programme with this id.")
    return programme


def update(session: Session, actor: Actor, programme: Programme, changes: dict[str, Any]
           ) -> Programme:
    before = snapshot(programme)
    for name, value in changes.items():
        setattr(programme, name, value)
    if programme.period_end < programme.period_start:
        invalid("period_end", "The period must end on or after its start.")
    session.flush()
    audit.record(session, actor, "programme.updated", "programme", programme.id, before,
                 snapshot(programme))
    return programme
