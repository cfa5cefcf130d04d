"""Match runs: requested by DP3A, done by a Celery worker, watched by polling."""
from __future__ import annotations

import uuid

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.matching.models import MatchRun, db
from services.matching.operations import runs
from services.matching.schemas import MatchRunCreateSchema, MatchRunSchema
from services.matching.tasks import run_match
from shared.auth import DP3A_ROLES, allow, current_actor
from shared.idempotency import idempotent
from shared.pagination import PAGINATION_ARGS, SelectPage

blp = Blueprint("match_runs", __name__, description="Match runs")


@blp.route("/api/v1/match-runs")
class MatchRuns(MethodView):
    @allow(DP3A_ROLES)
    @blp.response(200, MatchRunSchema(many=True))
    @blp.paginate(SelectPage, **PAGINATION_ARGS)
    def get(self):
        """Runs, newest first"""
        return select(MatchRun).order_by(MatchRun.created_at.desc(), MatchRun.id)

    @allow(DP3A_ROLES)
    @idempotent
    @blp.arguments(MatchRunCreateSchema)
    @blp.response(202, MatchRunSchema)
    def post(self, args: dict):
        """Start a match run over the open needs in scope; poll the returned URL"""
        run = runs.request_run(db.session, current_actor(), args,
                               current_app.config["MATCH_WEIGHTS"])
        db.session.commit()
        run_match.delay(str(run.id))  # after commit, so the worker finds the run
        return run, 202, {"Location": url_for("match_runs.MatchRunItem", run_id=run.id)}


@blp.route("/api/v1/match-runs/<uuid:run_id>")
class MatchRunItem(MethodView):
    @allow(DP3A_ROLES)
    @blp.response(200, MatchRunSchema)
    def get(self, run_id: uuid.UUID):
        """A run's status, progress by phase and stats"""
        return runs.get(db.session, run_id)


@blp.route("/api/v1/match-runs/<uuid:run_id>/cancel")
class MatchRunCancel(MethodView):
    @allow(DP3A_ROLES)
    @blp.response(200, MatchRunSchema)
    def post(self, run_id: uuid.UUID):
        """Cancel a queued or running run; earlier proposals stay as they were"""
        run = runs.get(db.session, run_id)
        runs.cancel(db.session, current_actor(), run)
        db.session.commit()
        return run
