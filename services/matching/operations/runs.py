"""Match runs: scope the open needs, solve with the engine, save explained proposals.

A run holds its needs (run_needs, one active run per need by a unique index) from the
request until it ends, so two runs never work on the same need at once."""
from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from psycopg.types.json import set_json_dumps
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.matching.engine import Need as EngineNeed
from services.matching.engine import Offer as EngineOffer
from services.matching.engine import TrackRecord, Weights, match
from services.matching.engine.model import ModelError
from services.matching.models import (
    Delivery,
    MatchRun,
    Need,
    Programme,
    Proposal,
    RunNeed,
)
from services.matching.operations.needs import OPEN_STATUSES
from shared import audit, outbox
from shared.audit import Actor
from shared.db import utcnow
from shared.errors import abort, invalid

PHASES = ("fetching_offers", "scoring", "solving", "saving")
# engine phase -> (run phase, where it starts and ends in that phase's progress)
ENGINE_PHASES = {
    "prepare": ("scoring", 0.0, 0.1), "candidates": ("scoring", 0.1, 0.5),
    "scoring": ("scoring", 0.5, 1.0), "solve": ("solving", 0.0, 0.8),
    "explanations": ("solving", 0.8, 1.0),
}
ACTIVE = ("queued", "running")


class RunCancelled(Exception):
    """The officer cancelled the run while it was working."""


def _in_scope(scope: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    """The conditions on Need that select the open needs of a run's scope."""
    conditions = [Need.status.in_(OPEN_STATUSES), Need.covered < Need.quantity]
    if scope.get("programme_id"):
        conditions.append(Need.programme_id == uuid.UUID(scope["programme_id"]))
    if scope.get("region"):
        code = scope["region"]
        conditions.append((Need.region == code)
                          | Need.region.startswith(code + ".", autoescape=True))
    if scope.get("kinds"):
        conditions.append(Need.kind.in_(scope["kinds"]))
    return conditions


def scoped_needs(session: Session, scope: dict[str, Any]) -> list[Need]:
    return list(session.scalars(select(Need).where(*_in_scope(scope)).order_by(Need.id)))


def request_run(session: Session, actor: Actor, args: dict[str, Any],
                default_weights: dict[str, float]) -> MatchRun:
    """A queued run over the open needs in scope; 409 if another run holds any of them."""
    try:
        weights = Weights.from_dict({**default_weights, **(args.get("weights") or {})}).as_dict()
    except ModelError as exc:
        invalid("weights", str(exc))
    scope = {"programme_id": str(args["programme_id"]) if args.get("programme_id") else None,
             "region": args.get("region"), "kinds": sorted(args.get("kinds") or [])}
    if scope["programme_id"] and session.get(Programme, args["programme_id"]) is None:
        invalid("programme_id", "No programme with this id.")
    run = MatchRun(status="queued", scope=scope, weights=weights, requested_by=actor.id,
                   phase=None, progress=0.0, phases={}, stats={})
    session.add(run)
    session.flush()
    # One INSERT ... SELECT: the needs never travel to Python (a run may hold thousands).
    try:
        held = session.execute(insert(RunNeed).from_select(
            ["run_id", "need_id", "active"],
            select(sa.literal(run.id, RunNeed.run_id.type), Need.id, sa.true())
            .where(*_in_scope(scope)))).rowcount
    except IntegrityError:
        session.rollback()
        abort(409, "Another match run is still working on some of these needs; wait for it "
                   "or cancel it.", type="run-overlap")
    audit.record(session, actor, "match_run.requested", "match_run", run.id, None,
                 {"scope": scope, "weights": weights, "needs": held})
    return run


def get(session: Session, run_id: uuid.UUID) -> MatchRun:
    run = session.get(MatchRun, run_id)
    if run is None:
        abort(404, "No match run with this id.")
    return run


def cancel(session: Session, actor: Actor, run: MatchRun) -> MatchRun:
    if run.status not in ACTIVE:
        abort(409, f"A {run.status} run cannot be cancelled.", type="illegal-transition",
              current_status=run.status)
    before = {"status": run.status}
    run.cancel_requested_at = utcnow()
    if run.status == "queued":  # the worker has not picked it up: end it now
        _finish(session, run, "cancelled", error="Cancelled before it started.")
    audit.record(session, actor, "match_run.cancel", "match_run", run.id, before,
                 {"status": run.status})
    return run


def _finish(session: Session, run: MatchRun, status: str, error: str | None = None) -> None:
    run.status = status
    run.error = error
    run.finished_at = utcnow()
    session.execute(update(RunNeed).where(RunNeed.run_id == run.id).values(active=False))


def track_records(session: Session) -> dict[str, TrackRecord]:
    """Each organisation's ratings and fulfilment so far, for the track_record score."""
    ratings = session.execute(select(
        Delivery.organisation_id, sa.func.avg(Delivery.rating), sa.func.count())
        .group_by(Delivery.organisation_id)).all()
    counts = session.execute(select(
        Proposal.organisation_id,
        sa.func.sum(sa.case((Proposal.status == "fulfilled", 1), else_=0)),
        sa.func.sum(sa.case((Proposal.status.in_(("approved", "accepted", "fulfilled",
                                                  "declined")), 1), else_=0)))
        .group_by(Proposal.organisation_id)).all()
    records: dict[str, dict[str, Any]] = {}
    for org, mean, count in ratings:
        records.setdefault(str(org), {}).update(mean_rating=float(mean), ratings=count)
    for org, fulfilled, approved in counts:
        records.setdefault(str(org), {}).update(fulfilled=int(fulfilled or 0),
                                                approved=int(approved or 0))
    return {org: TrackRecord.from_dict(data) for org, data in records.items()}


# What a run reads of each need (engine_need and _save): columns, not ORM objects.
NEED_COLUMNS = (Need.id, Need.kind, Need.title, Need.description, Need.topics, Need.quantity,
                Need.covered, Need.unit, Need.window_start, Need.window_end, Need.region,
                Need.priority, Need.accepted_modes, Need.single_offer,
                Need.excluded_organisations)


def run_needs(session: Session, run_id: uuid.UUID) -> list[sa.Row[Any]]:
    """The needs a run holds that are still open with something left to cover, by id."""
    return list(session.execute(
        select(*NEED_COLUMNS).join(RunNeed, RunNeed.need_id == Need.id)
        .where(RunNeed.run_id == run_id, Need.status.in_(OPEN_STATUSES),
               Need.covered < Need.quantity)
        .order_by(Need.id)).all())


def engine_need(need: Need | sa.Row[Any], quantity: int | None = None) -> EngineNeed:
    """The need as the engine sees it: what is left to cover (or `quantity`)."""
    return EngineNeed.from_dict({
        "id": str(need.id), "kind": need.kind, "topics": need.topics,
        "quantity": quantity if quantity is not None else need.quantity - need.covered,
        "unit": need.unit,
        "window_start": need.window_start, "window_end": need.window_end,
        "region": need.region, "priority": need.priority,
        "accepted_modes": need.accepted_modes, "single_offer": need.single_offer,
        "excluded_organisations": need.excluded_organisations,
        "description": f"{need.title}. {need.description}",
    })


def execute(session_factory: Callable[[], Session], run_id: uuid.UUID,
            fetch_offers: Callable[[], list[dict[str, Any]]],
            milp_time_limit: float | None = None) -> None:
    """Do the work of one run (the Celery task calls this). Progress and status are committed
    as it goes, in short transactions, so that GET on the run shows them."""
    with session_factory() as session:
        run = session.get(MatchRun, run_id)
        if run is None or run.status != "queued":
            return  # cancelled, or delivered twice: nothing to do
        run.status = "running"
        run.started_at = utcnow()
        session.commit()
    timings: dict[str, float] = {}
    try:
        with _gc_paused():
            _work(session_factory, run_id, fetch_offers, timings, milp_time_limit)
    except RunCancelled:
        _end(session_factory, run_id, "cancelled", "Cancelled by an officer.")
    except Exception as exc:
        _end(session_factory, run_id, "failed", f"{exc.__class__.__name__}: {exc}")
        raise


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Run without the cyclic garbage collector. A run holds about a million small objects
    (the offer snapshot, the engine's explanations) and makes no reference cycles worth
    collecting; each allocation counts toward the next collection, which would rescan all of
    them over and over (it doubled the time to save the proposals). Reference counting
    frees everything as usual; the collector runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _work(session_factory: Callable[[], Session], run_id: uuid.UUID,
          fetch_offers: Callable[[], list[dict[str, Any]]], timings: dict[str, float],
          milp_time_limit: float | None = None) -> None:
    """Fetch, load, match, save; seconds per step go into `timings`.

    The offer snapshot is fetched in a thread while the needs are read from the database
    (the fetch mostly waits for partners); `loading` is what the run then still waits for
    before the engine starts (the needs, if they took longer, and the engine's inputs)."""
    _report(session_factory, run_id, "fetching_offers", 0.0)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch-offers") as pool:
        fetching = pool.submit(_timed, fetch_offers)
        with session_factory() as session:
            run = session.get(MatchRun, run_id)
            needs = run_needs(session, run_id)
            engine_needs = [engine_need(n) for n in needs]
            records = track_records(session)
            weights = Weights.from_dict(run.weights)
        offers_raw, timings["fetching_offers"], fetched_at = fetching.result()
    _report(session_factory, run_id, "fetching_offers", 1.0)
    engine_offers = [EngineOffer.from_export(o) for o in offers_raw]
    offers_by_id = {str(o["id"]): o for o in offers_raw}
    timings["loading"] = time.perf_counter() - fetched_at

    def progress(phase: str, fraction: float) -> None:
        run_phase, start, end = ENGINE_PHASES.get(phase, ("scoring", 0.0, 1.0))
        _report(session_factory, run_id, run_phase, start + (end - start) * fraction)

    started = time.perf_counter()
    # Single-offer needs in large connected groups can make the exact MILP slow; with a limit
    # the run still ends, and its stats say whether optimality was proven.
    result = match(engine_needs, engine_offers, weights=weights, track_records=records,
                   progress=progress, milp_time_limit=milp_time_limit)
    timings["matching"] = time.perf_counter() - started
    _report(session_factory, run_id, "saving", 0.0)
    started = time.perf_counter()
    with session_factory() as session:
        run = session.get(MatchRun, run_id, with_for_update=True)
        if run.cancel_requested_at is not None:
            raise RunCancelled()
        _save(session, run, needs, result, offers_by_id)
        timings["saving"] = time.perf_counter() - started
        run.stats = {**result.stats, "seconds": {**result.stats.get("seconds", {}),
                                                 **timings}}
        run.phase, run.progress = "saving", 1.0
        run.phases = {**(run.phases or {}), "saving": 1.0}
        _finish(session, run, "succeeded")
        outbox.emit(session, "match_run.finished", "match_run", run.id, {
            "run_id": str(run.id), "status": "succeeded", "requested_by": run.requested_by,
            "proposals": len(result.proposals), "needs": len(needs),
            "demand_covered": result.stats.get("demand_covered")})
        session.commit()


def _timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """work()'s value, the seconds it took and when it ended (perf_counter)."""
    started = time.perf_counter()
    value = work()
    ended = time.perf_counter()
    return value, ended - started, ended


def _report(session_factory: Callable[[], Session], run_id: uuid.UUID, phase: str,
            fraction: float) -> None:
    """Record progress; stop the run here if an officer cancelled it."""
    with session_factory() as session:
        run = session.get(MatchRun, run_id)
        if run.cancel_requested_at is not None:
            raise RunCancelled()
        run.phase = phase
        run.progress = round(max(0.0, min(1.0, fraction)), 3)
        run.phases = {**(run.phases or {}), phase: run.progress}
        session.commit()


def _end(session_factory: Callable[[], Session], run_id: uuid.UUID, status: str,
         error: str) -> None:
    with session_factory() as session:
        run = session.get(MatchRun, run_id)
        if run.status in ACTIVE:
            _finish(session, run, status, error)
            if status == "failed":
                outbox.emit(session, "match_run.finished", "match_run", run.id, {
                    "run_id": str(run.id), "status": status, "error": error,
                    "requested_by": run.requested_by})
            session.commit()


def _save(session: Session, run: MatchRun, needs: list[sa.Row[Any]], result: Any,
          offers_by_id: dict[str, dict[str, Any]]) -> None:
    """New proposals replace the unapproved ones of the same needs, in one transaction."""
    need_ids = [n.id for n in needs]
    now = utcnow()
    for chunk in _chunks(need_ids, 1000):
        session.execute(update(Proposal).where(
            Proposal.need_id.in_(chunk), Proposal.status == "proposed").values(
            status="superseded", superseded_at=now, version=Proposal.version + 1))
    if _copy_connection(session) is not None:
        saved = _copy_proposals(session, run.id, {str(n.id): (n.id, n.unit) for n in needs},
                                result.proposals, offers_by_id, now)
    else:
        units = {str(n.id): n.unit for n in needs}
        rows = []
        for item in result.proposals:
            offer = offers_by_id[item.offer_id]
            rows.append({
                "id": uuid.uuid4(), "run_id": run.id, "need_id": uuid.UUID(item.need_id),
                "offer_id": uuid.UUID(item.offer_id),
                "organisation_id": uuid.UUID(str(offer["organisation"]["id"])),
                "organisation_name": offer["organisation"]["name"],
                "organisation_kind": offer["organisation"]["kind"],
                "offer_title": offer["title"], "quantity": item.quantity,
                "unit": units[item.need_id], "score": min(1.0, max(0.0, float(item.score))),
                "explanation": item.explanation, "status": "proposed", "created_at": now,
                "version": 1,
            })
        for chunk in _chunks(rows, 2000):
            session.execute(sa.insert(Proposal), chunk)
        saved = len(rows)
    audit.record(session, Actor(id=run.requested_by, role="dp3a_officer"),
                 "match_run.succeeded", "match_run", run.id, {"status": "running"},
                 {"status": "succeeded", "proposals": saved})


# The columns a new proposal sets (the others, decisions and reasons, start NULL) with their
# PostgreSQL types, for a binary COPY.
COPY_COLUMNS = (("id", "uuid"), ("run_id", "uuid"), ("need_id", "uuid"), ("offer_id", "uuid"),
                ("organisation_id", "uuid"), ("organisation_name", "varchar"),
                ("organisation_kind", "varchar"), ("offer_title", "varchar"),
                ("quantity", "int8"), ("unit", "varchar"), ("score", "float8"),
                ("explanation", "json"), ("status", "varchar"), ("created_at", "timestamptz"),
                ("version", "int4"))


def _copy_connection(session: Session) -> Any:
    """The psycopg connection under the session's transaction when it can COPY (PostgreSQL
    through psycopg 3), else None."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        return None
    return connection.connection.driver_connection


def _copy_proposals(session: Session, run_id: uuid.UUID,
                    needs: dict[str, tuple[uuid.UUID, str]], proposals: list[Any],
                    offers_by_id: dict[str, dict[str, Any]], now: Any) -> int:
    """Write the proposals with one binary COPY in the session's transaction: tens of
    thousands of rows with their explanations (about 2 kB of JSON each) in one stream,
    rather than one INSERT per row. The same rows as the ORM insert."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    statement = (f"COPY {quote(Proposal.__table__.name)} "
                 f"({', '.join(quote(name) for name, _ in COPY_COLUMNS)}) "
                 "FROM STDIN (FORMAT BINARY)")
    raw = _copy_connection(session)
    as_uuid = uuid.UUID
    count = 0
    # Nothing below may touch an ORM attribute: a lazy load would query the connection in
    # the middle of the COPY.
    with raw.cursor() as cursor:
        # Explanations are serialised by orjson, straight to the bytes that are sent.
        set_json_dumps(_dump_json, context=cursor)
        with cursor.copy(statement) as copy:
            copy.set_types([kind for _, kind in COPY_COLUMNS])
            write = copy.write_row
            for item in proposals:
                offer = offers_by_id[item.offer_id]
                organisation = offer["organisation"]
                need_id, unit = needs[item.need_id]
                write((uuid.uuid4(), run_id, need_id, as_uuid(item.offer_id),
                       as_uuid(str(organisation["id"])), organisation["name"],
                       organisation["kind"], offer["title"], item.quantity, unit,
                       min(1.0, max(0.0, float(item.score))), item.explanation, "proposed",
                       now, 1))
                count += 1
    return count


def _dump_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
