"""The matching HTTP API: one blueprint per resource."""
from __future__ import annotations

from flask_smorest import Api

from services.matching.api import (
    audit_log,
    deliveries,
    match_runs,
    needs,
    programmes,
    proposals,
    reports,
)


def register(api: Api) -> None:
    for module in (programmes, needs, match_runs, proposals, deliveries, reports, audit_log):
        api.register_blueprint(module.blp)
