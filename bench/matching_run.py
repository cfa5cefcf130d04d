"""A whole match run through the API, timed against the bare solver, in one run.

    .venv/bin/python bench/matching_run.py [--needs 10000 --offers 50000]

1. creates fresh PostgreSQL databases for partners and matching and migrates both;
2. bulk-loads (SQLAlchemy Core) 50,000 active offers of verified organisations into partners
   and 10,000 open needs (one programme per kelurahan) into matching: Jawa Barat, Kota
   Bekasi first and then outward (codes from shared/regions.py), generated like
   bench/matching_engine.py's instances, about 50 candidate offers per need;
3. starts partners under gunicorn (2 sync workers), matching under gunicorn (2 sync workers)
   and one Celery worker for matching (-Q matching,periodic -c 1), all on 127.0.0.1, Redis
   keys under a prefix of their own;
4. signs in a DP3A officer (password grant), POSTs /api/v1/match-runs and polls the run
   (every 250 ms, every 20 ms once it saves) until it ends: request → proposals saved (the run turns `succeeded` in the
   same transaction that saves them), with the run's own seconds per phase. Three runs
   (--runs), the matching database put back as before between them (proposals, runs and
   their holds deleted, vacuum, checkpoint), so each does the same work; `run_s` is the
   median;
5. measures the floor on the same problem: the same export and needs through the engine
   (`match(..., keep_problems=True)` gives the very arrays it solved), then only OR-Tools'
   SimpleMinCostFlow on those arrays (fresh solver: add arcs, supplies, solve, read flows),
   as bench/matching_engine.py does, three times right before each run (so that the floor
   and the run see the same machine); the median of all is `solver_floor_s`;
6. writes bench/results/matching_run.json, prints a table, and always stops its processes,
   deletes its Redis keys and drops its databases.

Goal: run_s <= 5 x solver_floor_s. Exit status 0 when met, 2 when missed, 1 on an error.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np
import requests
import sqlalchemy as sa
from common import (
    KIND_SHARE,
    KIND_WORDS,
    KINDS,
    PHRASES,
    TOPICS_BY_KIND,
    Processes,
    cpu_seconds,
    cpu_used,
    create_database,
    drop_database,
    free_port,
    log,
    machine_info,
    tail,
    wait_ready,
    wait_until_quiet,
)
from ortools.graph.python import min_cost_flow
from sqlalchemy.orm import Session

from services import matching, partners
from services.matching.engine import Offer as EngineOffer
from services.matching.engine import Weights, match
from services.matching.models import MatchRun, Need, Programme, Proposal, RunNeed
from services.matching.operations.runs import engine_need, scoped_needs
from services.partners.models import Offer, OfferRegion, OfferTopic, Organisation, Topic, User
from services.partners.security import hash_password
from shared.clock import today_wib
from shared.jwt_keys import KeyRing
from shared.migrations import upgrade
from shared.regions import catalogue

RESULTS = ROOT / "bench" / "results" / "matching_run.json"
GOAL_RATIO = 5.0          # run_s <= 5 x solver_floor_s
DEFAULT_TIMEOUT_S = 900   # a run that takes longer fails the benchmark
# Polls are cheap but not free (each is a request to matching and a query): slow while the
# run works, fast once it saves its proposals (the last step), so the end is seen within 20 ms.
POLL_S, POLL_SAVING_S = 0.25, 0.02
QUIET_CORES = 0.3  # other work on the machine below this many cores counts as quiet
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "bench-" + secrets.token_urlsafe(12)
OFFICER_EMAIL = "dp3a.officer@bench.example"

# --- the instance, shaped like bench/matching_engine.py's ------------------------------------

# Kabupaten/kota of Jawa Barat in the order needs spread out from Kota Bekasi.
NEAR_FIRST = ["32.75", "32.16", "32.76", "32.01", "32.71", "32.15", "32.14", "32.13", "32.04",
              "32.73", "32.77", "32.17", "32.03", "32.02", "32.72", "32.11", "32.10", "32.12",
              "32.09", "32.74", "32.08", "32.05", "32.06", "32.78", "32.07", "32.79", "32.18"]
NEEDS_PER_KELURAHAN = 10
CITY_WIDE = 200  # about this many city-wide offers reach each need, at every size
UNIT_OF_KIND = {"funding": "rupiah", "module": "seats", "trainer": "sessions",
                "facility": "units"}


def parent(code: str) -> str:
    return code.rsplit(".", 1)[0]


def kelurahan_by_distance() -> list[tuple[str, str]]:
    """(code, name) of Jawa Barat's kelurahan/desa from the catalogue, Kota Bekasi first."""
    regions = catalogue()
    out = []
    for city in NEAR_FIRST:
        rows = [(kel.code, kel.name) for kec in regions.children(city)
                for kel in regions.children(kec.code)]
        out += sorted(rows)
    if not out:
        raise SystemExit("the region catalogue has no kelurahan under Jawa Barat (32)")
    return out


class Instance:
    """The rows to load: organisations and offers (partners), programmes and needs
    (matching). Dates are relative to next 1 January (WIB), so every offer is live."""

    def __init__(self, n_needs: int, n_offers: int, seed: int, single_share: float) -> None:
        rng = random.Random(seed)
        self.now = datetime.now(UTC)
        base = date(today_wib().year + 1, 1, 1)
        places = kelurahan_by_distance()
        places = places[:min(len(places), max(60, n_needs // NEEDS_PER_KELURAHAN))]
        codes = [c for c, _ in places]
        by_kecamatan: dict[str, list[str]] = {}
        for code in codes:
            by_kecamatan.setdefault(parent(code), []).append(code)

        def topics_for(kind: str, count: int) -> list[str]:
            pool = TOPICS_BY_KIND[kind]
            return rng.sample(pool, min(count, len(pool)))

        def text(kind: str, topics: list[str], extra: str) -> str:
            words = " ".join(PHRASES[t] for t in topics).split()
            return f"{KIND_WORDS[kind]} {' '.join(rng.sample(words, min(len(words), 6)))} {extra}"

        def quantity(kind: str, role: str) -> int:
            # Offers are small next to needs (about five offers' worth per need), so supply
            # is about demand in total but scarce in places.
            need = role == "need"
            if kind == "funding":
                return 500_000 * (rng.randint(10, 299) if need else rng.randint(2, 59))
            if kind == "trainer":
                return rng.randint(4, 24) if need else rng.randint(1, 4)
            if kind == "module":
                return 5 * (rng.randint(4, 20) if need else rng.randint(1, 5))
            return rng.randint(1, 10) if need else rng.randint(1, 2)

        # organisations: one per four offers, each with a home kelurahan and its ring 1
        self.organisations: list[dict[str, Any]] = []
        for i in range(max(10, n_offers // 4)):
            home = rng.choice(codes)
            kind = rng.choices(("company", "university", "ngo"), (0.6, 0.25, 0.15))[0]
            registered = self.now - timedelta(days=rng.randint(30, 900))
            self.organisations.append({
                "id": uuid.uuid4(), "kind": kind, "name": f"Bench {kind.title()} {i:05d}",
                "nib": f"91{i:011d}" if kind == "company" else None,
                "npwp": f"01{i:014d}" if kind == "company" else None,
                "pddikti_code": f"{i:06d}" if kind == "university" else None,
                "sector": rng.choice(("pendidikan", "keuangan", "ritel", "teknologi", None)),
                "address": f"Jl. Bench No. {i}", "address_region": home,
                "operating_regions": [parent(home)] if kind != "university"
                else [parent(parent(home))],
                "website": None, "contact_name": f"Kontak {i}",
                "contact_email": f"kontak{i}@bench.example",
                "contact_phone": f"08{rng.randrange(10**10):010d}",
                "status": "verified", "status_reason": None, "is_agency": False,
                "registered_at": registered, "verified_at": registered + timedelta(days=2),
                "rejected_at": None, "suspended_at": None, "version": 1,
            })
        orgs = self.organisations

        # offers: online ones reach every need that accepts online, city-wide ones every
        # need of their city: both kept to a fixed number per need at every size
        online_share = min(0.2, 300 / n_offers)
        cities = {parent(parent(code)) for code in codes}
        city_share = min(0.2, CITY_WIDE * len(cities) / n_offers)
        self.offers: list[dict[str, Any]] = []
        self.offer_topics: list[dict[str, Any]] = []
        self.offer_regions: list[dict[str, Any]] = []
        for i in range(n_offers):
            kind = rng.choices(KINDS, KIND_SHARE)[0]
            org = rng.choice(orgs)
            home = org["address_region"]
            remaining = quantity(kind, "offer")
            committed = 0
            if rng.random() < 0.2:  # some of it already given: capacity above what is left
                committed = remaining if kind != "funding" else 500_000 * rng.randint(1, 20)
            roll = rng.random()
            if kind == "facility" or roll >= 2 * online_share:
                mode = "onsite"
            else:
                mode = "online" if roll < online_share else "hybrid"
            level = rng.random()
            if level < city_share:
                regions = [parent(parent(home))]           # its whole city
            elif level < 0.5:                               # a few kelurahan of its kecamatan
                near = by_kecamatan[parent(home)]
                regions = sorted(rng.sample(near, min(len(near), 3)))
            else:
                regions = [parent(home)]                    # its kecamatan
            start = base - timedelta(days=60) + timedelta(days=rng.randrange(330))
            topics = topics_for(kind, rng.randint(1, 4))
            created = self.now - timedelta(days=rng.uniform(1, 365))
            offer_id = uuid.uuid4()
            self.offers.append({
                "id": offer_id, "organisation_id": org["id"], "kind": kind,
                "title": f"{KIND_WORDS[kind].split()[0].title()} "
                         f"{topics[0].replace('_', ' ')} ({i:05d})",
                "description": text(kind, topics, org["name"]), "unit": UNIT_OF_KIND[kind],
                "capacity": remaining + committed, "reserved": 0, "committed": committed,
                "available_from": start,
                "available_to": start + timedelta(days=rng.randint(90, 300)), "mode": mode,
                "language": "id", "status": "active", "created_by": "bench",
                "created_at": created, "updated_at": created, "submitted_at": created,
                "activated_at": created, "exhausted_at": None, "expired_at": None,
                "withdrawn_at": None, "topic_codes": sorted(set(topics)),
                "region_codes": sorted(set(regions)), "version": 1,
            })
            self.offer_topics += [{"offer_id": offer_id, "topic_code": t} for t in topics]
            self.offer_regions += [{"offer_id": offer_id, "region_code": r} for r in regions]

        # programmes: one per kelurahan with needs; needs: about ten per kelurahan
        year = base.year
        self.programmes: dict[str, dict[str, Any]] = {}
        self.needs: list[dict[str, Any]] = []
        for i in range(n_needs):
            region, name = rng.choice(places)
            programme = self.programmes.get(region)
            if programme is None:
                programme = self.programmes[region] = {
                    "id": uuid.uuid4(), "name": f"Sekoper Cinta Kelurahan {name} {year}",
                    "region": region, "period_start": base,
                    "period_end": base + timedelta(days=450),
                    "cohort_size": rng.randint(30, 120),
                    "description": f"Kelas sekolah perempuan Kelurahan {name}.",
                    "created_by": "bench", "created_at": self.now, "version": 1}
            kind = rng.choices(KINDS, KIND_SHARE)[0]
            topics = topics_for(kind, rng.randint(1, 2))
            start = base + timedelta(days=rng.randrange(300))
            self.needs.append({
                "id": uuid.uuid4(), "programme_id": programme["id"], "kind": kind,
                "title": f"{KIND_WORDS[kind].split()[0].title()} "
                         f"{topics[0].replace('_', ' ')} untuk Kelurahan {name}"[:200],
                "description": f"Kelas Sekoper Cinta Kelurahan {name} membutuhkan "
                               + text(kind, topics, "untuk peserta perempuan"),
                "topics": topics, "quantity": quantity(kind, "need"),
                "unit": UNIT_OF_KIND[kind], "window_start": start,
                "window_end": start + timedelta(days=rng.randint(30, 120)), "region": region,
                "priority": rng.choices((1, 2, 3, 4, 5), (0.1, 0.2, 0.4, 0.2, 0.1))[0],
                "accepted_modes": ["onsite", "hybrid"]
                + (["online"] if rng.random() < 0.3 else []),
                "single_offer": rng.random() < single_share,
                "excluded_organisations": ([str(rng.choice(orgs)["id"])]
                                           if rng.random() < 0.02 else []),
                "status": "open", "covered": 0, "created_by": "bench",
                "created_at": self.now, "updated_at": self.now, "cancelled_at": None,
                "feedback_requested_at": None, "version": 1,
            })


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
            batch: int = 5000) -> None:
    for start in range(0, len(rows), batch):
        connection.execute(sa.insert(table), rows[start:start + batch])


def _vacuum_analyze(engine: sa.Engine) -> None:
    # What autovacuum would do soon after a load like this: fresh planner statistics.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def load(instance: Instance, partners_url: str, matching_url: str) -> None:
    """Bulk-load with SQLAlchemy Core, plus DP3A (the agency) and one officer."""
    engine = sa.create_engine(partners_url)
    try:
        with engine.begin() as connection:
            vocabulary = set(connection.scalars(sa.select(Topic.code).where(Topic.is_active)))
            unknown = {t["topic_code"] for t in instance.offer_topics} - vocabulary
            if unknown:
                raise SystemExit(f"topics not in the seeded vocabulary: {sorted(unknown)}")
            agency_id = uuid.uuid4()
            connection.execute(sa.insert(Organisation.__table__), [{
                "id": agency_id, "kind": "government", "name": "DP3A Kota Bekasi (bench)",
                "address_region": "32.75", "operating_regions": ["32.75"],
                "contact_name": "DP3A", "contact_email": "dp3a@bench.example",
                "contact_phone": "+6281200000000", "status": "verified", "is_agency": True,
                "registered_at": instance.now, "verified_at": instance.now, "version": 1}])
            connection.execute(sa.insert(User.__table__), [{
                "id": uuid.uuid4(), "organisation_id": agency_id, "email": OFFICER_EMAIL,
                "name": "Petugas DP3A (bench)", "role": "dp3a_officer", "region_codes": [],
                "locale": "id", "password_hash": hash_password(PASSWORD), "is_active": True,
                "created_at": instance.now, "version": 1}])
            _insert(connection, Organisation.__table__, instance.organisations)
        for start in range(0, len(instance.offers), 10_000):  # a transaction per slice
            chunk = instance.offers[start:start + 10_000]
            ids = {o["id"] for o in chunk}
            with engine.begin() as connection:
                _insert(connection, Offer.__table__, chunk)
                _insert(connection, OfferTopic.__table__,
                        [t for t in instance.offer_topics if t["offer_id"] in ids])
                _insert(connection, OfferRegion.__table__,
                        [r for r in instance.offer_regions if r["offer_id"] in ids])
        _vacuum_analyze(engine)
    finally:
        engine.dispose()
    engine = sa.create_engine(matching_url)
    try:
        with engine.begin() as connection:
            _insert(connection, Programme.__table__, list(instance.programmes.values()))
            _insert(connection, Need.__table__, instance.needs)
        _vacuum_analyze(engine)
    finally:
        engine.dispose()


# --- the services ----------------------------------------------------------------------------

def service_env(partners_url: str, matching_url: str, partners_base: str, keys_dir: Path,
                secret: str, key_prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RATELIMIT_STORAGE_URI", "CELERY_BROKER_URL", "MATCH_WEIGHTS",
                 "MATCHING_CLIENT_ID"):
        env.pop(name, None)  # nothing from the caller's shell changes what is measured
    env.update({
        "PARTNERS_DATABASE_URL": partners_url,
        "MATCHING_DATABASE_URL": matching_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_KEY_PREFIX": key_prefix,
        "SERVICE_CLIENTS": f"matching={secret}",
        "MATCHING_CLIENT_SECRET": secret,
        "PARTNERS_URL": partners_base,
        "JWT_KEYS_DIR": str(keys_dir),
        "JWT_CREATE_KEY_IF_MISSING": "false",  # made before start: every process shares it
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    return env


def wait_worker(env: dict[str, str], process: Any, log_path: Path, seconds: float = 90) -> None:
    """Until the Celery worker answers a ping on the broker (so the run is not queued
    behind the worker's start-up). The ping goes through a matching app configured like the
    services (same broker, same key prefix)."""
    overrides = {"DATABASE_URL": env["MATCHING_DATABASE_URL"], "REDIS_URL": env["REDIS_URL"],
                 "CELERY_KEY_PREFIX": env["CELERY_KEY_PREFIX"],
                 "PARTNERS_URL": env["PARTNERS_URL"], "LOG_LEVEL": "WARNING"}
    celery = matching.create_app(overrides).extensions["celery"]
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the Celery worker exited ({process.returncode}); see "
                                 f"{log_path}:\n{tail(log_path)}")
            if celery.control.ping(timeout=1.0):
                return
        raise SystemExit(f"the Celery worker did not answer a ping within {seconds:.0f} s; "
                         f"see {log_path}:\n{tail(log_path)}")
    finally:
        celery.close()


def drop_redis_keys(prefix: str) -> int:
    """Delete what this run left on Redis (queues, bindings, unacked messages): every key
    under its own prefix."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        return len(keys)
    finally:
        client.close()


def post_json(url: str, body: dict[str, Any], expect: int, **kwargs: Any) -> requests.Response:
    response = requests.post(url, json=body, timeout=30, **kwargs)
    if response.status_code != expect:
        raise SystemExit(f"FAIL: POST {url} answered {response.status_code}, not {expect}: "
                         f"{response.text[:500]}")
    return response


def officer_token(partners_base: str) -> str:
    return post_json(f"{partners_base}/api/v1/auth/token", {
        "grant_type": "password", "email": OFFICER_EMAIL, "password": PASSWORD}, 200,
    ).json()["access_token"]


def service_token(partners_base: str, secret: str) -> str:
    return post_json(f"{partners_base}/api/v1/auth/token", {
        "grant_type": "client_credentials", "client_id": "matching",
        "client_secret": secret}, 200).json()["access_token"]


def time_run(matching_base: str, token: str, timeout_s: float) -> tuple[float, dict[str, Any]]:
    """POST a run over every open need and poll it until it ends: (seconds, the run)."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    response = post_json(f"{matching_base}/api/v1/match-runs", {}, 202,
                         headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    post_s = time.perf_counter() - started
    location = response.headers.get("Location") or f"/api/v1/match-runs/{response.json()['id']}"
    url = location if location.startswith("http") else matching_base + location
    deadline = started + timeout_s
    last: dict[str, Any] = response.json()
    polling = requests.Session()  # one kept-alive connection for all the polls
    while True:
        polled = polling.get(url, headers=headers, timeout=30)
        if polled.status_code != 200:
            raise SystemExit(f"FAIL: GET {url} answered {polled.status_code}: "
                             f"{polled.text[:500]}")
        last = polled.json()
        if last["status"] not in ("queued", "running"):
            elapsed = time.perf_counter() - started
            polling.close()
            return elapsed, {**last, "post_s": post_s}
        if time.perf_counter() > deadline:
            requests.post(f"{url}/cancel", headers=headers, timeout=30)
            raise SystemExit(f"FAIL: the run did not end within {timeout_s:.0f} s (status "
                             f"{last['status']}, phase {last.get('phase')}, progress "
                             f"{last.get('progress')}); it was cancelled")
        time.sleep(POLL_SAVING_S if last.get("phase") == "saving" else POLL_S)


# --- the floor -------------------------------------------------------------------------------

def solver_floor(problem: Any) -> tuple[float, int]:
    """OR-Tools alone on the engine's arrays: fresh solver, add arcs, supplies, solve, flows
    (as bench/matching_engine.py times it)."""
    started = time.perf_counter()
    tails = np.ascontiguousarray(problem.tails, dtype=np.int64)
    heads = np.ascontiguousarray(problem.heads, dtype=np.int64)
    capacities = np.ascontiguousarray(problem.capacities, dtype=np.int64)
    costs = np.ascontiguousarray(problem.costs, dtype=np.int64)
    solver = min_cost_flow.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    solver.set_nodes_supplies(np.arange(len(problem.supplies)), problem.supplies)
    status = solver.solve()
    solver.flows(arcs)
    return time.perf_counter() - started, int(status)


def floor_problem(partners_base: str, secret: str, matching_url: str,
                  weights: dict[str, Any]) -> dict[str, Any]:
    """The runs' problem built here: the same export, the same open needs (in the same
    order), the same weights, no track records yet; the engine keeps the min-cost-flow
    arrays it solves."""
    started = time.perf_counter()
    response = requests.get(f"{partners_base}/api/v1/export/active-offers", timeout=120,
                            headers={"Authorization":
                                     f"Bearer {service_token(partners_base, secret)}"})
    response.raise_for_status()
    offers_raw = response.json()["offers"]
    export_s = time.perf_counter() - started
    engine = sa.create_engine(matching_url)
    try:
        with Session(engine) as session:
            needs = [engine_need(n) for n in scoped_needs(session, {})]
    finally:
        engine.dispose()
    offers = [EngineOffer.from_export(o) for o in offers_raw]
    del offers_raw
    started = time.perf_counter()
    result = match(needs, offers, weights=Weights.from_dict(weights), keep_problems=True)
    engine_s = time.perf_counter() - started
    return {"problems": result.problems, "export_s": export_s, "engine_s": engine_s,
            "engine_phases_s": result.stats["seconds"], "stats": result.stats,
            "arcs": int(sum(len(p.tails) for p in result.problems))}


def time_floor(problems: list[Any], repetitions: int) -> dict[str, Any]:
    """OR-Tools alone on every group's arrays, `repetitions` times: seconds of each
    repetition, and how many cores other work kept busy meanwhile."""
    times, statuses = [], set()
    own = resource.getrusage(resource.RUSAGE_SELF)
    machine_before, wall_before = cpu_seconds({}, {})["machine"], time.perf_counter()
    for _ in range(repetitions):
        total = 0.0
        for problem in problems:
            seconds, status = solver_floor(problem)
            total += seconds
            statuses.add(status)
        times.append(total)
    after = resource.getrusage(resource.RUSAGE_SELF)
    mine = (after.ru_utime - own.ru_utime) + (after.ru_stime - own.ru_stime)
    others = (cpu_seconds({}, {})["machine"] - machine_before - mine) / (
        time.perf_counter() - wall_before)
    if statuses != {int(min_cost_flow.SimpleMinCostFlow.OPTIMAL)}:
        raise SystemExit(f"FAIL: the floor's solves ended with statuses {sorted(statuses)}")
    return {"times_s": times, "others_cores": round(max(0.0, others), 2)}


def reset_matching(matching_url: str) -> None:
    """Back to the state before the first run (no runs, no proposals), so that every timed
    run does the same work; then a checkpoint, so that no run pays for the previous one's
    writes."""
    engine = sa.create_engine(matching_url)
    try:
        with engine.begin() as connection:
            for table in (Proposal, RunNeed, MatchRun):
                connection.execute(sa.delete(table))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE proposals, run_needs, match_runs")
            connection.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()


def count_proposals(matching_url: str, run_id: str) -> int:
    engine = sa.create_engine(matching_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(Proposal)
                                     .where(Proposal.run_id == uuid.UUID(run_id)))
    finally:
        engine.dispose()


def run_phases(run: dict[str, Any], run_s: float) -> dict[str, float]:
    """Seconds of request -> saved by step: the run's own figures, plus the queue (request to
    the worker's start) and the rest (progress commits, the POST itself, polling)."""
    seconds = run["stats"].get("seconds", {})
    queued = seconds_between(run.get("created_at"), run.get("started_at")) or 0.0
    phases = {"post": run.get("post_s", 0.0), "queued": queued, "fetching_offers": seconds.get("fetching_offers", 0.0),
              "loading": seconds.get("loading", 0.0),
              **{name: seconds.get(name, 0.0)
                 for name in ("prepare", "candidates", "scoring", "solve", "explanations")},
              "engine_total": seconds.get("total", 0.0),
              "saving": seconds.get("saving", 0.0)}
    phases["rest"] = max(0.0, run_s - queued - phases["fetching_offers"] - phases["loading"]
                         - seconds.get("matching", phases["engine_total"]) - phases["saving"])
    return {k: round(v, 3) for k, v in phases.items()}


# --- report ----------------------------------------------------------------------------------

def print_table(result: dict[str, Any]) -> None:
    phases = result["phases_s"]
    print()
    print(f"match run through the API on PostgreSQL: {result['needs']} needs, "
          f"{result['offers']} offers, {result['edges']} candidate edges "
          f"({result['edges_per_need']} per need), {result['machine']['nproc']} CPUs, "
          f"Python {result['machine']['python']}")
    rows = [
        ("request -> proposals saved (run_s)", f"{result['run_s']:.3f} s",
         (f"{result['proposals']} proposals, demand covered "
          f"{100 * result['demand_covered_share']:.1f}%")),
        ("  queued (created -> worker picks it up)", f"{phases['queued']:.3f} s",
         f"the POST answered in {phases['post']:.3f} s"),
        ("  fetching_offers (export over HTTP)", f"{phases['fetching_offers']:.3f} s", ""),
        ("  loading (engine inputs)", f"{phases['loading']:.3f} s",
         "after the fetch; needs are read during it"),
        *[(f"  engine: {name}", f"{phases[name]:.3f} s", "")
          for name in ("prepare", "candidates", "scoring", "solve", "explanations")],
        ("  engine total", f"{phases['engine_total']:.3f} s",
         f"standalone here: {result['engine_standalone_s']:.3f} s"),
        ("  saving (proposals, one transaction)", f"{phases['saving']:.3f} s", ""),
        ("  rest (progress commits, polling)", f"{phases['rest']:.3f} s", ""),
        ("solver floor (SimpleMinCostFlow alone)", f"{result['solver_floor_s']:.3f} s",
         (f"median of {len(result['solver_floor_runs_s'])} (before each run), "
          f"{result['arcs']} arcs")),
        ("ratio run_s / solver_floor_s", f"{result['ratio']:.2f}",
         f"goal <= {GOAL_RATIO:.0f}: " + ("PASS" if result["goal"]["pass"] else "FAIL")),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_s_during_run"].items())
    print(f"CPU seconds during the median run: {cpu}")
    print(f"cores kept busy by other work: {result['others_cores_during_run']:.2f} during the "
          f"median run, {result['others_cores_during_floor']:.2f} during the floor"
          + ("" if max(result["others_cores_during_run"], result["others_cores_during_floor"])
             < QUIET_CORES else " (the machine was not idle: figures are less reliable)"))
    print("all runs: " + ", ".join(f"{r['run_s']:.3f} s" for r in result["runs"]))
    print(f"results: {RESULTS.relative_to(ROOT)}")


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--offers", type=int, default=50_000)
    parser.add_argument("--single-offer-share", type=float, default=0.0,
                        help="share of needs that must come from one offer")
    parser.add_argument("--matching-workers", type=int, default=2,
                        help="gunicorn workers of the matching API (1 or 2)")
    parser.add_argument("--runs", type=int, default=3,
                        help="timed runs (the matching database is reset between them); "
                             "the median is reported")
    parser.add_argument("--floor-repetitions", type=int, default=3)
    parser.add_argument("--wait-quiet", type=float, default=60,
                        help="seconds to wait, before each timed run, for other work on the "
                             "machine to quiet down (0: do not wait)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds a run may take before the benchmark fails")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--keep-db", action="store_true",
                        help="leave the databases for profiling (default: drop them)")
    args = parser.parse_args()

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    load_at_start = round(os.getloadavg()[0], 2)
    if load_at_start > 0.5:
        log(f"note: the machine is already busy (load average {load_at_start}); other work "
            "competes for the same cores and slows every figure")
    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    databases = {"partners": f"mitra_bench_run_partners_{tag}",
                 "matching": f"mitra_bench_run_matching_{tag}"}
    key_prefix = f"mitra-bench-run-{tag}:"
    workdir = Path(tempfile.mkdtemp(prefix="mitra-bench-run-"))
    processes = Processes(workdir)
    created: list[str] = []
    ok = False
    try:
        log(f"creating databases {', '.join(databases.values())} and migrating them")
        partners_url = create_database(databases["partners"])
        created.append(databases["partners"])
        matching_url = create_database(databases["matching"])
        created.append(databases["matching"])
        upgrade(partners.MIGRATIONS, partners_url)
        upgrade(matching.MIGRATIONS, matching_url)

        log(f"generating {args.needs} needs and {args.offers} offers")
        started = time.perf_counter()
        instance = Instance(args.needs, args.offers, args.seed, args.single_offer_share)
        load(instance, partners_url, matching_url)
        load_s = time.perf_counter() - started
        counts = {"organisations": len(instance.organisations),
                  "programmes": len(instance.programmes),
                  "offer_topics": len(instance.offer_topics),
                  "offer_regions": len(instance.offer_regions)}
        log(f"loaded in {load_s:.1f} s: {counts}")
        del instance

        keys_dir = workdir / "keys"
        KeyRing(keys_dir, create_if_empty=True)
        secret = secrets.token_urlsafe(24)
        partners_base = f"http://127.0.0.1:{free_port()}"
        env = service_env(partners_url, matching_url, partners_base, keys_dir, secret,
                          key_prefix)

        log("starting partners (gunicorn -w 2)")
        partners_proc, _, partners_log = processes.start_gunicorn(
            "partners", "services.partners:create_app()", env, workers=2,
            port=int(partners_base.rsplit(":", 1)[1]))
        wait_ready(f"{partners_base}/readyz", partners_proc, partners_log)
        log(f"starting matching (gunicorn -w {args.matching_workers}) and its Celery worker")
        matching_proc, matching_port, matching_log = processes.start_gunicorn(
            "matching", "services.matching:create_app()", env, workers=args.matching_workers)
        matching_base = f"http://127.0.0.1:{matching_port}"
        worker_proc, worker_log = processes.spawn("worker", [
            sys.executable, "-m", "celery", "-A", "services.matching.worker:celery", "worker",
            "-Q", "matching,periodic", "-c", "1", "--loglevel", "WARNING",
            "-n", f"bench-{tag}@%h"], env)
        wait_ready(f"{matching_base}/readyz", matching_proc, matching_log)
        wait_worker(env, worker_proc, worker_log)

        token = officer_token(partners_base)
        headers = {"Authorization": f"Bearer {token}"}
        # The matching API fetches the identity provider's keys on first use: do it now.
        requests.get(f"{matching_base}/api/v1/match-runs", headers=headers,
                     timeout=30).raise_for_status()

        groups = {"partners_api": partners_proc.pid, "matching_api": matching_proc.pid,
                  "worker": worker_proc.pid}
        pg = {f"postgres_{k}": v for k, v in databases.items()}
        # The floor's problem, built once; its timing is taken right before each run, so
        # that both see the same machine (other work on it slows both).
        log("solver floor: the runs' problem built here (export, needs, engine)")
        weights = Weights().as_dict()  # the services run with the engine's defaults
        floor = floor_problem(partners_base, secret, matching_url, weights)
        timed: list[dict[str, Any]] = []
        floors: list[dict[str, Any]] = []
        for attempt in range(args.runs):
            if attempt:
                reset_matching(matching_url)
            if args.wait_quiet:
                cores = wait_until_quiet(QUIET_CORES, args.wait_quiet)
                if cores >= QUIET_CORES:
                    log(f"note: the machine stays busy ({cores:.1f} cores in use by others); "
                        "measuring anyway")
            floors.append(time_floor(floor["problems"], args.floor_repetitions))
            log(f"run {attempt + 1}/{args.runs}: floor "
                f"{statistics.median(floors[-1]['times_s']):.3f} s; POST /api/v1/match-runs "
                "(every open need), polling the run")
            cpu_before = cpu_seconds(groups, pg)
            run_s, run = time_run(matching_base, token, args.timeout)
            cpu = cpu_used(cpu_before, cpu_seconds(groups, pg))
            if run["status"] != "succeeded":
                raise SystemExit(f"FAIL: the run ended {run['status']}: {run.get('error')}\n"
                                 f"worker log {worker_log}:\n{tail(worker_log)}")
            saved = count_proposals(matching_url, run["id"])
            if saved != run["stats"]["proposals"] or not saved:
                raise SystemExit(f"FAIL: the run reports {run['stats']['proposals']} "
                                 f"proposals, the database holds {saved}")
            timed.append({"run_s": run_s, "run": run, "cpu": cpu,
                          "phases": run_phases(run, run_s),
                          "others_cores": round(cpu["other"] / run_s, 2)})
            log(f"run {attempt + 1} succeeded in {run_s:.3f} s: {saved} proposals "
                f"(CPU elsewhere on the machine meanwhile: {cpu['other']:.1f} s)")
        processes.stop_all()
        # The median run is the one reported; every run is kept in the results.
        median = sorted(timed, key=lambda t: t["run_s"])[len(timed) // 2]
        run_s, run, cpu, phases = median["run_s"], median["run"], median["cpu"], median["phases"]
        stats = run["stats"]
        floor_times = [t for f in floors for t in f["times_s"]]
        floor_s = statistics.median(floor_times)
        if run["weights"] != weights:
            log(f"WARNING: the run used weights {run['weights']}, the floor {weights}")
        mine, theirs = floor["stats"], stats
        same = (mine["candidate_edges"] == theirs["candidate_edges"]
                and mine["demand_covered"] == theirs["demand_covered"]
                and mine["objective"] == theirs["objective"])
        if not same:
            log("WARNING: the floor's problem differs from the run's: edges "
                f"{mine['candidate_edges']} vs {theirs['candidate_edges']}, objective "
                f"{mine['objective']} vs {theirs['objective']}")

        demand_total = sum(stats["demand_total"].values())
        ratio = run_s / floor_s if floor_s else float("inf")
        result = {
            "run_s": round(run_s, 3),
            "run_server_s": round(seconds_between(run.get("created_at"),
                                                  run.get("finished_at")) or 0.0, 3),
            "solver_floor_s": round(floor_s, 4),
            "solver_floor_runs_s": [round(s, 4) for s in floor_times],
            "ratio": round(ratio, 2),
            "needs": stats["needs"],
            "offers": stats["offers"],
            "needs_loaded": args.needs,
            "offers_loaded": args.offers,
            "edges": stats["candidate_edges"],
            "edges_per_need": round(stats["candidate_edges"] / max(1, stats["needs"]), 1),
            "arcs": floor["arcs"],
            "proposals": stats["proposals"],
            "demand_covered": stats["demand_covered"],
            "demand_total": stats["demand_total"],
            "demand_covered_share": round(sum(stats["demand_covered"].values())
                                          / demand_total, 4) if demand_total else 0.0,
            "needs_fully_covered": stats.get("needs_fully_covered"),
            "phases_s": phases,
            "run_seconds_reported": stats.get("seconds", {}),
            "runs": [{"run_s": round(t["run_s"], 3), "phases_s": t["phases"],
                      "cpu_s": t["cpu"], "others_cores": t["others_cores"]} for t in timed],
            # Cores that other work on the machine kept busy during the median run and during
            # the floor: above ~0.3 the figures are not those of an otherwise idle machine.
            "others_cores_during_run": median["others_cores"],
            "others_cores_during_floor": statistics.median(f["others_cores"] for f in floors),
            "engine_standalone_s": round(floor["engine_s"], 3),
            "engine_standalone_phases_s": floor["engine_phases_s"],
            "export_standalone_s": round(floor["export_s"], 3),
            "same_problem_as_run": same,
            "groups": stats.get("groups"),
            "single_offer_share": args.single_offer_share,
            "cpu_s_during_run": cpu,
            "load_s": round(load_s, 1),
            "loaded": counts,
            "setup": {"partners": "gunicorn -w 2 (sync)",
                      "matching": f"gunicorn -w {args.matching_workers} (sync)",
                      "worker": "celery worker -Q matching,periodic -c 1",
                      "poll_interval_s": {"working": POLL_S, "saving": POLL_SAVING_S}},
            "loadavg_1min_at_start": load_at_start,
            "machine": machine_info(**_versions()),
            "goal": {"rule": f"run_s <= {GOAL_RATIO:g} x solver_floor_s",
                     "max_run_s": round(GOAL_RATIO * floor_s, 3),
                     "pass": run_s <= GOAL_RATIO * floor_s},
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print_table(result)
        ok = True
        return 0 if result["goal"]["pass"] else 2
    finally:
        processes.stop_all()
        try:
            drop_redis_keys(key_prefix)
        except Exception as exc:  # noqa: BLE001 - report it, go on cleaning up
            log(f"could not delete the Redis keys under {key_prefix}: {exc}")
        for name in created:
            if args.keep_db:
                log(f"kept database {name} (--keep-db)")
                continue
            try:
                drop_database(name)
            except Exception as exc:  # noqa: BLE001 - report it, go on cleaning up
                log(f"could not drop database {name}: {exc}")
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"service logs kept in {workdir}")


def _versions() -> dict[str, str]:
    import celery
    import gunicorn
    import ortools

    return {"gunicorn": gunicorn.__version__, "celery": celery.__version__,
            "ortools": ortools.__version__, "numpy": np.__version__}


if __name__ == "__main__":
    sys.exit(main())
