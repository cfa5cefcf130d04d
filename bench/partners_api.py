"""Load benchmark of the partners service on PostgreSQL, in one run.

    .venv/bin/python bench/partners_api.py            (or: make bench)

1. creates a fresh PostgreSQL database, migrates it and bulk-loads 50,000 offers of ~500
   verified organisations in Kota Bekasi;
2. measures the ceiling: a bare Flask JSON endpoint (bench/ceiling_app.py) under gunicorn with
   2 sync workers;
3. measures GET /api/v1/offers (a filtered, paginated search with a service token) under the
   same gunicorn settings, with wrk (32 connections, 2 threads, ~10 s after a warm-up): first
   with the read cache off (every request queries PostgreSQL), then as deployed (answers kept
   until a write, shared/read_cache.py, with Redis);
4. times GET /api/v1/export/active-offers over the 50,000 offers;
5. prints a table, writes bench/results/partners.json, stops its processes and drops the
   database (always, even on error).

Everything stays on 127.0.0.1 and every load is bounded in time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
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

import common
import psycopg
import requests
import sqlalchemy as sa
from common import HZ as _HZ
from common import Processes, wait_ready
from common import ticks as _ticks

from services import partners
from services.partners.models import Offer, OfferRegion, OfferTopic, Organisation, Topic
from services.partners.schemas import MODES_BY_KIND, UNITS_BY_KIND
from shared.clock import today_wib
from shared.jwt_keys import KeyRing
from shared.migrations import upgrade
from shared.regions import catalogue

DATABASE = "mitra_bench_partners"
RESULTS = ROOT / "bench" / "results" / "partners.json"
CITY = "32.75"  # Kota Bekasi
OFFERS_QUERY = ("/api/v1/offers?kind=trainer&topic=pemasaran_digital&region=32.75.11.1004"
                "&status=active&page_size=20")
QUERY_REGION = "32.75.11.1004"
QUERY_TOPIC = "pemasaran_digital"
GOAL_LIST_SHARE = 5      # offers list >= ceiling / 5 requests per second
GOAL_LIST_P99_MS = 50.0  # ... with p99 under 50 ms
GOAL_EXPORT_S = 2.0      # export of every matchable offer under 2 s


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- the data --------------------------------------------------------------------------------

def create_database() -> str:
    return common.create_database(DATABASE)


def drop_database() -> None:
    common.drop_database(DATABASE)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def make_organisations(rng: random.Random, count: int, kelurahan: list[str],
                       kecamatan: list[str], now: datetime) -> list[dict[str, Any]]:
    rows = []
    kinds = ("company", "university", "ngo")
    for i in range(count):
        kind = kinds[i % 3]
        registered = now - timedelta(days=rng.randint(30, 900))
        rows.append({
            "id": uuid.uuid4(), "kind": kind, "name": f"Bench {kind.title()} {i:04d}",
            # unique identifiers: the index makes them distinct, random digits fill them up
            "nib": f"{i:04d}{_digits(rng, 9)}" if kind == "company" else None,
            "npwp": f"{i:04d}{_digits(rng, 12)}" if kind == "company" else None,
            "pddikti_code": f"{i:04d}{_digits(rng, 2)}" if kind == "university" else None,
            "sector": rng.choice(("pendidikan", "keuangan", "ritel", "teknologi", None)),
            "address": f"Jl. Bench No. {i}", "address_region": rng.choice(kelurahan),
            "operating_regions": rng.sample(kecamatan, rng.randint(1, 3)),
            "website": None, "contact_name": f"Kontak {i}",
            "contact_email": f"kontak{i}@bench.example", "contact_phone": f"08{_digits(rng, 10)}",
            "status": "verified", "status_reason": None, "is_agency": False,
            "registered_at": registered, "verified_at": registered + timedelta(days=2),
            "rejected_at": None, "suspended_at": None, "version": 1,
        })
    return rows


# (status, weight): mostly active; a few of every other state, so filters have work to do
STATUS_WEIGHTS = [("active", 85), ("exhausted", 3), ("draft", 4), ("submitted", 2),
                  ("expired", 3), ("withdrawn", 3)]
KIND_WEIGHTS = [("funding", 20), ("module", 25), ("trainer", 30), ("facility", 25)]


def make_offer(rng: random.Random, index: int, org_ids: list[uuid.UUID], topics: list[str],
               kecamatan: list[str], kelurahan: list[str], today: date, now: datetime
               ) -> tuple[dict[str, Any], list[str], list[str]]:
    kind = rng.choices([k for k, _ in KIND_WEIGHTS], [w for _, w in KIND_WEIGHTS])[0]
    status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
    unit = rng.choice(UNITS_BY_KIND[kind])
    mode = rng.choice(MODES_BY_KIND[kind])
    capacity = (rng.randint(5, 500) * 1_000_000 if kind == "funding" else rng.randint(1, 500))
    reserved = committed = 0
    if status == "active":
        reserved = rng.randint(0, capacity // 4)
        committed = rng.randint(0, capacity // 4)
    elif status == "exhausted":
        reserved = rng.randint(0, capacity // 2)
        committed = capacity - reserved
    if status == "expired" or (status == "active" and rng.random() < 0.01):
        # expired, or active but the nightly expire-offers has not run yet: not matchable
        available_to = today - timedelta(days=rng.randint(1, 60))
    else:
        available_to = today + timedelta(days=rng.randint(1, 365))
    available_from = min(available_to, today) - timedelta(days=rng.randint(0, 180))
    created = now - timedelta(days=rng.uniform(0, 365))
    stamp = created + timedelta(hours=1)
    offer_topics = rng.sample(topics, rng.randint(1, 3))
    roll = rng.random()
    if roll < 0.02:
        regions = ["32"]                                        # the whole province
    elif roll < 0.12:
        regions = [CITY]                                        # the whole city
    elif roll < 0.50:
        regions = rng.sample(kecamatan, rng.randint(1, 3))      # a few kecamatan
    else:
        regions = rng.sample(kelurahan, rng.randint(1, 6))      # a few kelurahan
    row = {
        "id": uuid.uuid4(), "organisation_id": rng.choice(org_ids), "kind": kind,
        "title": f"Bench {kind} {index:05d}: {offer_topics[0].replace('_', ' ')}",
        "description": "Penawaran untuk Sekoper Cinta Kota Bekasi (data benchmark).",
        "unit": unit, "capacity": capacity, "reserved": reserved, "committed": committed,
        "available_from": available_from, "available_to": available_to, "mode": mode,
        "language": "en" if rng.random() < 0.1 else "id", "status": status,
        "created_by": "bench", "created_at": created, "updated_at": stamp,
        "submitted_at": stamp if status != "draft" else None,
        "activated_at": stamp if status in {"active", "exhausted", "expired"} else None,
        "exhausted_at": stamp if status == "exhausted" else None,
        "expired_at": now if status == "expired" else None,
        "withdrawn_at": stamp if status == "withdrawn" else None,
        "topic_codes": sorted(offer_topics), "region_codes": sorted(regions),
        "version": 1,
    }
    return row, offer_topics, regions


def load_data(url: str, offers: int, organisations: int, seed: int) -> dict[str, Any]:
    """Bulk-load with SQLAlchemy Core; returns what the checks need to know."""
    rng = random.Random(seed)
    today = today_wib()  # the service's calendar: offer windows are in WIB days
    now = datetime.now(UTC)
    regions = catalogue()
    kecamatan = [r.code for r in regions.children(CITY)]
    kelurahan = [k.code for kc in kecamatan for k in regions.children(kc)]
    if not kecamatan or not kelurahan:
        raise SystemExit(f"the region catalogue has no kecamatan/kelurahan under {CITY}")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            topics = list(connection.scalars(
                sa.select(Topic.code).where(Topic.is_active.is_(True)).order_by(Topic.code)))
            if QUERY_TOPIC not in topics:
                raise SystemExit(f"topic {QUERY_TOPIC} is not in the seeded vocabulary")
            orgs = make_organisations(rng, organisations, kelurahan, kecamatan, now)
            connection.execute(sa.insert(Organisation.__table__), orgs)
        org_ids = [o["id"] for o in orgs]
        matchable = 0
        expected_list = 0
        query_codes = set(regions.ancestors(QUERY_REGION))
        counts = {"offer_topics": 0, "offer_regions": 0}
        batch = 5000
        for start in range(0, offers, batch):
            offer_rows, topic_rows, region_rows = [], [], []
            for index in range(start, min(start + batch, offers)):
                row, offer_topics, offer_regions = make_offer(
                    rng, index, org_ids, topics, kecamatan, kelurahan, today, now)
                offer_rows.append(row)
                topic_rows += [{"offer_id": row["id"], "topic_code": t} for t in offer_topics]
                region_rows += [{"offer_id": row["id"], "region_code": r} for r in offer_regions]
                if (row["status"] == "active" and row["available_to"] >= today
                        and row["capacity"] > row["reserved"] + row["committed"]):
                    matchable += 1  # every organisation is verified
                if (row["kind"] == "trainer" and row["status"] == "active"
                        and QUERY_TOPIC in offer_topics and query_codes & set(offer_regions)):
                    expected_list += 1
            with engine.begin() as connection:
                connection.execute(sa.insert(Offer.__table__), offer_rows)
                connection.execute(sa.insert(OfferTopic.__table__), topic_rows)
                connection.execute(sa.insert(OfferRegion.__table__), region_rows)
            counts["offer_topics"] += len(topic_rows)
            counts["offer_regions"] += len(region_rows)
        # What autovacuum would do soon after a load like this: fresh planner statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return {"matchable": matchable, "expected_list_total": expected_list,
            "organisations": organisations, **counts}


# --- processes ------------------------------------------------------------------------------

class Servers(Processes):
    """gunicorn processes this run started; each in its own process group, all stopped at exit."""

    def start(self, name: str, app: str, env: dict[str, str], extra: list[str] | None = None
              ) -> tuple[subprocess.Popen, int, Path]:
        return self.start_gunicorn(name, app, env, workers=2, extra=extra)


# --- wrk ---------------------------------------------------------------------------------

def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is not installed; installing it with `apt-get install -y wrk` (needs root)")
    try:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        log("apt-get install failed; running `apt-get update` once and trying again")
        try:
            subprocess.run(["apt-get", "update", "-q"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            raise SystemExit("could not install wrk; install it yourself "
                             "(apt-get install wrk) and run again") from exc
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still not on PATH after apt-get install wrk")
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"cannot read a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles, request count and errors from `wrk --latency`."""
    result: dict[str, Any] = {"non_2xx": 0, "socket_errors": {}}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    result["rps"] = float(rps.group(1))
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.MULTILINE)
        if match:
            result[f"p{pct}_ms"] = _ms(match.group(1))
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output)
    if total:
        result["requests"] = int(total.group(1))
        result["seconds"] = _ms(total.group(2) + total.group(3)) / 1000
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        result["non_2xx"] = int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     output)
    if sock:
        result["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                           map(int, sock.groups())))
    return result


def run_wrk(wrk: str, url: str, *, connections: int, threads: int, duration: int,
            warmup: int, headers: dict[str, str] | None = None,
            server: subprocess.Popen | None = None) -> dict[str, Any]:
    header_args = [arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")]
    base = [wrk, f"-t{threads}", f"-c{connections}", "--timeout", "5s", *header_args]
    if warmup > 0:
        subprocess.run([*base, f"-d{warmup}s", url], check=True, capture_output=True,
                       text=True, timeout=warmup + 30)
    before = cpu_snapshot(server)
    done = subprocess.run([*base, f"-d{duration}s", "--latency", url], check=True,
                          capture_output=True, text=True, timeout=duration + 30)
    after = cpu_snapshot(server)
    result = parse_wrk(done.stdout)
    result["raw"] = done.stdout
    result["cpu"] = cpu_split(before, after, result.get("requests") or 0)
    if result["non_2xx"]:
        raise SystemExit(f"FAIL: {result['non_2xx']} non-2xx responses from {url}:\n"
                         f"{done.stdout}")
    errors = {k: v for k, v in result["socket_errors"].items() if v}
    if errors:
        raise SystemExit(f"FAIL: socket errors {errors} against {url}:\n{done.stdout}")
    return result


# --- where the CPU went during a measurement ----------------------------------------------

def cpu_snapshot(server: subprocess.Popen | None) -> dict[str, float]:
    """CPU seconds so far of: the server's process group, the PostgreSQL backends of the
    bench database, finished children (wrk), and the whole machine (from /proc/stat)."""
    service = postgres = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if server is not None and os.getpgid(int(entry)) == server.pid:
                service += _ticks(entry)
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres") and DATABASE.encode() in cmdline:
            postgres += _ticks(entry)
    with open("/proc/stat") as handle:
        cpu = [int(x) for x in handle.readline().split()[1:]]
    busy = sum(cpu) - cpu[3] - (cpu[4] if len(cpu) > 4 else 0)  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"service": service / _HZ, "postgres": postgres / _HZ,
            "wrk": children.ru_utime + children.ru_stime, "machine": busy / _HZ,
            "wall": time.monotonic()}


def cpu_split(before: dict[str, float], after: dict[str, float], requests_done: int
              ) -> dict[str, Any]:
    """CPU used during the run, in % of one core and ms per request; `other` is everything
    else on the machine (other users' work competes for the same 2 cores)."""
    wall = after["wall"] - before["wall"]
    used = {k: after[k] - before[k] for k in ("service", "postgres", "wrk", "machine")}
    used["other"] = max(0.0, used.pop("machine") - used["service"] - used["postgres"]
                        - used["wrk"])
    return {name: {"core_pct": round(seconds / wall * 100, 1),
                   "ms_per_request": round(seconds / requests_done * 1000, 3)
                   if requests_done else None}
            for name, seconds in used.items()}


# --- the run -----------------------------------------------------------------------------

def machine_info(wrk: str) -> dict[str, Any]:
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True,
                                 check=False)
    import gunicorn

    return common.machine_info(
        gunicorn=gunicorn.__version__,
        wrk=(wrk_version.stdout + wrk_version.stderr).splitlines()[0].strip()
        if (wrk_version.stdout + wrk_version.stderr) else None)


def service_env(url: str, keys_dir: Path, secret: str, *, read_cache: bool) -> dict[str, str]:
    """The service as deployed (Redis for the read cache and the limiter), on the bench's
    database and keys; `read_cache=False` measures every request going to PostgreSQL."""
    env = dict(os.environ)
    env.pop("RATELIMIT_STORAGE_URI", None)
    env.update({
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "CELERY_KEY_PREFIX": f"mitra-bench-{os.getpid()}",
        "READ_CACHE": "true" if read_cache else "false",
        "PARTNERS_DATABASE_URL": url,
        "JWT_KEYS_DIR": str(keys_dir),
        "JWT_CREATE_KEY_IF_MISSING": "false",  # made before start: both workers share it
        "SERVICE_CLIENTS": f"bench={secret}",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    return env


def forget_redis_keys(prefix: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL",
                                                     "redis://127.0.0.1:6379/0"))
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    except redis.RedisError as exc:
        log(f"could not remove the bench's Redis keys {prefix}*: {exc}")


def service_token(base: str, secret: str) -> str:
    response = requests.post(f"{base}/api/v1/auth/token", timeout=10, json={
        "grant_type": "client_credentials", "client_id": "bench", "client_secret": secret})
    if response.status_code != 200:
        raise SystemExit(f"FAIL: token request answered {response.status_code}: "
                         f"{response.text[:500]}")
    return response.json()["access_token"]


def check_offers_list(base: str, token: str, expected_total: int) -> dict[str, Any]:
    response = requests.get(base + OFFERS_QUERY, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise SystemExit(f"FAIL: {OFFERS_QUERY} answered {response.status_code}: "
                         f"{response.text[:500]}")
    items = response.json()
    if not items:
        raise SystemExit(f"FAIL: {OFFERS_QUERY} returned no offers")
    pagination = json.loads(response.headers.get("X-Pagination", "{}"))
    if pagination.get("total") != expected_total:
        raise SystemExit(f"FAIL: {OFFERS_QUERY} counts {pagination.get('total')} offers, the "
                         f"loaded data has {expected_total}")
    bad = [o["id"] for o in items if o["kind"] != "trainer" or o["status"] != "active"
           or QUERY_TOPIC not in o["topics"]]
    if bad:
        raise SystemExit(f"FAIL: offers that do not match the filters: {bad[:5]}")
    return {"page_items": len(items), "total": pagination.get("total"),
            "bytes": len(response.content)}


def time_export(base: str, token: str, repetitions: int, expected: int) -> dict[str, Any]:
    times, counts, sizes = [], [], []
    for _ in range(repetitions):
        started = time.perf_counter()
        response = requests.get(f"{base}/api/v1/export/active-offers", timeout=120,
                                headers={"Authorization": f"Bearer {token}"})
        body = response.content  # the whole body is read before the clock stops
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"FAIL: export answered {response.status_code}: {body[:500]!r}")
        payload = json.loads(body)
        counts.append(payload["count"])
        sizes.append(len(body))
        if payload["count"] != len(payload["offers"]) or payload["count"] != expected:
            raise SystemExit(f"FAIL: export returned count {payload['count']} with "
                             f"{len(payload['offers'])} offers; {expected} are matchable")
    return {"median_s": statistics.median(times), "times_s": [round(t, 4) for t in times],
            "count": counts[0], "bytes": sizes[0]}


def print_table(result: dict[str, Any]) -> None:
    goals = result["goals"]
    rows = [
        ("ceiling (bare Flask JSON)", f"{result['ceiling_rps']:.0f} req/s",
         f"p50 {result['ceiling_p50_ms']:.2f} ms, p99 {result['ceiling_p99_ms']:.2f} ms", ""),
        ("GET /api/v1/offers (search)", f"{result['offers_list_rps']:.0f} req/s",
         f"p50 {result['offers_list_p50_ms']:.2f} ms, p99 {result['offers_list_p99_ms']:.2f} ms",
         f"goal >= {goals['offers_list_min_rps']:.0f} req/s and p99 < {GOAL_LIST_P99_MS:.0f} ms: "
         + ("PASS" if goals["offers_list_pass"] else "FAIL")),
        ("  the same, read cache off", f"{result['offers_list_uncached_rps']:.0f} req/s",
         f"p50 {result['offers_list_uncached_p50_ms']:.2f} ms, "
         f"p99 {result['offers_list_uncached_p99_ms']:.2f} ms", "(every request to PostgreSQL)"),
        (f"GET /api/v1/export/active-offers ({result['export_count']})",
         f"{result['export_50k_s']:.3f} s", "median of " + str(len(result["export_times_s"])),
         f"goal < {GOAL_EXPORT_S:.0f} s: " + ("PASS" if goals["export_pass"] else "FAIL")),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    print(f"partners API on PostgreSQL: {result['offers']} offers, gunicorn 2 sync workers, "
          f"wrk {result['threads']} threads x {result['connections']} connections x "
          f"{result['duration_s']} s, {result['machine']['nproc']} CPUs, "
          f"Python {result['machine']['python']}")
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print("  ".join("-" * w for w in widths))
    for label, key in (("ceiling", "ceiling_cpu"), ("offers list", "offers_list_cpu"),
                       ("offers list, cache off", "offers_list_uncached_cpu")):
        parts = ", ".join(f"{name} {v['core_pct']:.0f}% ({v['ms_per_request']:.2f} ms/req)"
                          for name, v in result[key].items() if v["ms_per_request"] is not None)
        print(f"CPU during {label} (% of one core): {parts}")
    print(f"results: {RESULTS.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offers", type=int, default=50_000)
    parser.add_argument("--organisations", type=int, default=500)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--export-repetitions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--keep-db", action="store_true",
                        help=f"leave the database {DATABASE} for profiling (default: drop it)")
    args = parser.parse_args()

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    wrk = ensure_wrk()
    load_at_start = round(os.getloadavg()[0], 2)
    if load_at_start > 0.5:
        log(f"note: the machine is already busy (load average {load_at_start}); other work "
            "competes for the same cores and lowers every figure")
    workdir = Path(tempfile.mkdtemp(prefix="mitra-bench-"))
    servers = Servers(workdir)
    database_created = False
    ok = False
    try:
        log(f"creating database {DATABASE} and migrating it")
        url = create_database()
        database_created = True
        upgrade(partners.MIGRATIONS, url)
        log(f"loading {args.offers} offers of {args.organisations} organisations")
        started = time.perf_counter()
        loaded = load_data(url, args.offers, args.organisations, args.seed)
        load_seconds = time.perf_counter() - started
        log(f"loaded in {load_seconds:.1f} s: {loaded}")

        wrk_options = {"connections": args.connections, "threads": args.threads,
                       "duration": args.duration, "warmup": args.warmup}

        log("ceiling: bare Flask app under gunicorn -w 2")
        ceiling_proc, port, log_path = servers.start(
            "ceiling", "ceiling_app:app", dict(os.environ),
            extra=["--chdir", str(ROOT / "bench")])
        wait_ready(f"http://127.0.0.1:{port}/", ceiling_proc, log_path)
        ceiling = run_wrk(wrk, f"http://127.0.0.1:{port}/", server=ceiling_proc,
                          **wrk_options)
        servers.stop(ceiling_proc)
        log(f"ceiling: {ceiling['rps']:.0f} req/s, p99 {ceiling['p99_ms']:.2f} ms")

        keys_dir = workdir / "keys"
        KeyRing(keys_dir, create_if_empty=True)
        secret = secrets.token_urlsafe(24)

        def start_partners(read_cache: bool) -> tuple[subprocess.Popen, str, str, dict]:
            """The service on the bench's data; its token and the checked first answer."""
            process, port, log_path = servers.start(
                "partners" if read_cache else "partners-uncached",
                "services.partners:create_app()",
                service_env(url, keys_dir, secret, read_cache=read_cache))
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/readyz", process, log_path)
            token = service_token(base, secret)
            return process, base, token, check_offers_list(base, token,
                                                           loaded["expected_list_total"])

        log("partners service under gunicorn -w 2, without its read cache")
        partners_proc, base, token, _ = start_partners(read_cache=False)
        uncached = run_wrk(wrk, base + OFFERS_QUERY, server=partners_proc,
                           headers={"Authorization": f"Bearer {token}"}, **wrk_options)
        servers.stop(partners_proc)
        log(f"offers list, every request to PostgreSQL: {uncached['rps']:.0f} req/s, "
            f"p50 {uncached['p50_ms']:.2f} ms, p99 {uncached['p99_ms']:.2f} ms")

        log("partners service under gunicorn -w 2, as deployed (read cache on Redis)")
        partners_proc, base, token, checked = start_partners(read_cache=True)
        log(f"offers list answers 200 with {checked['page_items']} of {checked['total']} offers")
        offers_list = run_wrk(wrk, base + OFFERS_QUERY, server=partners_proc,
                              headers={"Authorization": f"Bearer {token}"}, **wrk_options)
        log(f"offers list: {offers_list['rps']:.0f} req/s, p50 {offers_list['p50_ms']:.2f} ms, "
            f"p99 {offers_list['p99_ms']:.2f} ms")
        # A kept answer must be the database's answer, also after the load.
        if check_offers_list(base, token, loaded["expected_list_total"]) != checked:
            raise SystemExit("FAIL: the kept answer changed under load")

        log(f"export: {args.export_repetitions} x GET /api/v1/export/active-offers")
        export = time_export(base, token, args.export_repetitions, loaded["matchable"])
        log(f"export: median {export['median_s']:.3f} s for {export['count']} offers")
        servers.stop(partners_proc)

        min_rps = ceiling["rps"] / GOAL_LIST_SHARE
        goals = {
            "offers_list_min_rps": round(min_rps, 1),
            "offers_list_rps_pass": offers_list["rps"] >= min_rps,
            "offers_list_max_p99_ms": GOAL_LIST_P99_MS,
            "offers_list_p99_pass": offers_list["p99_ms"] < GOAL_LIST_P99_MS,
            "export_max_s": GOAL_EXPORT_S,
            "export_pass": export["median_s"] < GOAL_EXPORT_S,
        }
        goals["offers_list_pass"] = goals["offers_list_rps_pass"] and goals["offers_list_p99_pass"]
        goals["all_pass"] = goals["offers_list_pass"] and goals["export_pass"]
        result = {
            "ceiling_rps": round(ceiling["rps"], 1),
            "ceiling_p50_ms": round(ceiling["p50_ms"], 3),
            "ceiling_p99_ms": round(ceiling["p99_ms"], 3),
            "offers_list_rps": round(offers_list["rps"], 1),
            "offers_list_p50_ms": round(offers_list["p50_ms"], 3),
            "offers_list_p99_ms": round(offers_list["p99_ms"], 3),
            "offers_list_requests": offers_list.get("requests"),
            "offers_list_query": OFFERS_QUERY,
            "offers_list_read_cache": "on (answers kept per process until a write; Redis)",
            "offers_list_uncached_rps": round(uncached["rps"], 1),
            "offers_list_uncached_p50_ms": round(uncached["p50_ms"], 3),
            "offers_list_uncached_p99_ms": round(uncached["p99_ms"], 3),
            "offers_list_total": checked["total"],
            "export_50k_s": round(export["median_s"], 4),
            "export_times_s": export["times_s"],
            "export_count": export["count"],
            "export_bytes": export["bytes"],
            "offers": args.offers,
            "organisations": args.organisations,
            "offer_topics": loaded["offer_topics"],
            "offer_regions": loaded["offer_regions"],
            "matchable_offers": loaded["matchable"],
            "load_s": round(load_seconds, 1),
            "connections": args.connections,
            "threads": args.threads,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "gunicorn": "-w 2 (sync workers)",
            # CPU during each measurement: the server (gunicorn), its PostgreSQL backends,
            # wrk, and anything else running on the machine (which competes for the cores)
            "ceiling_cpu": ceiling["cpu"],
            "offers_list_cpu": offers_list["cpu"],
            "offers_list_uncached_cpu": uncached["cpu"],
            "loadavg_1min_at_start": load_at_start,
            "machine": machine_info(wrk),
            "goals": goals,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print_table(result)
        ok = True
        return 0 if goals["all_pass"] else 2
    finally:
        servers.stop_all()
        forget_redis_keys(f"mitra-bench-{os.getpid()}")
        if database_created and not args.keep_db:
            try:
                drop_database()
            except psycopg.Error as exc:
                log(f"could not drop database {DATABASE}: {exc}")
        elif database_created:
            log(f"kept database {DATABASE} (--keep-db)")
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"server logs kept in {workdir}")


if __name__ == "__main__":
    sys.exit(main())
