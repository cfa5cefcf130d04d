"""Notify's email throughput and latency, events through the outbox relay, in one run.

    .venv/bin/python bench/notify_throughput.py [--events 5000 --singles 200]

1. starts an aiosmtpd SMTP server on 127.0.0.1 in a thread of this process; it counts the
   messages and records when each arrives (by subject and Message-ID);
2. the ceiling: --ceiling-messages small messages to it over one reused smtplib
   connection (`ceiling_per_s`);
3. creates fresh PostgreSQL databases for partners and notify and migrates them; starts
   partners and notify (gunicorn -w 2 each), notify's Celery worker
   (-Q notify,periodic -c 2, prefork) and partners' (-Q outbox -c 1), Redis keys under a
   prefix of their own;
4. puts one DP3A officer into notify's directory (rows inserted), with the preference
   "email only" for every event type, so each `organisation.registered` event is one email;
5. the burst: --events outbox rows (`organisation.registered`, the payload
   services/partners/operations/organisations.py emits) written in ONE transaction through
   a session of the partners app's own `db.session_factory` (in its app context), so the
   commit fires the relay's after-commit trigger (shared/outbox_relay.py), which queues
   `partners.relay_outbox`; the relay posts the events in batches to notify's
   POST /api/v1/events/batch, notify fans out and its workers send. `notify_per_s` = events / (start of the burst,
   before the rows are written, to the last email received);
6. --singles events one at a time, each written and committed the same way (one outbox
   row, after-commit trigger, relay task), waiting for its email before the next:
   event-to-delivered latency, `latency_p50_ms` and `latency_p95_ms`;
7. writes bench/results/notify.json, prints a table, and always stops its processes,
   deletes its Redis keys and drops its databases.

Goals: notify_per_s >= ceiling_per_s / 4 and >= 300/s (six times the 50 messages a second
GOV.UK Notify allows a service by default), and latency_p95_ms < 500.
Exit status 0 when every goal is met, 2 when one is missed, 1 on an error.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from common import (
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
)
from sqlalchemy.orm import Session

from services import notify, partners
from services.notify.models import Preference, Recipient
from services.partners.models import db as partners_db
from shared import outbox
from shared.jwt_keys import KeyRing
from shared.migrations import upgrade

RESULTS = ROOT / "bench" / "results" / "notify.json"
REDIS_URL = "redis://127.0.0.1:6379/0"
GOV_UK_NOTIFY_PER_S = 50
GOAL_MIN_PER_S = 6 * GOV_UK_NOTIFY_PER_S   # 300/s
GOAL_CEILING_SHARE = 0.25
GOAL_P95_MS = 500.0
OFFICER_EMAIL = "dp3a.officer@bench.example"


# --- the SMTP server -----------------------------------------------------------------------

class CountingInbox:
    """An aiosmtpd handler: counts messages, records each arrival (perf_counter) by subject
    and by Message-ID; waiters are woken on every message."""

    def __init__(self) -> None:
        self.count = 0
        self.by_subject: dict[str, float] = {}
        self.by_message_id: dict[str, float] = {}
        self.repeated_subjects = 0
        self.last_at = 0.0
        self.cond = threading.Condition()
        self.parser = BytesHeaderParser(policy=default_policy)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        now = time.perf_counter()
        headers = self.parser.parsebytes(envelope.content)
        subject = str(headers.get("Subject", ""))
        message_id = str(headers.get("Message-ID", ""))
        with self.cond:
            self.count += 1
            self.last_at = now
            if subject in self.by_subject:
                self.repeated_subjects += 1
            else:
                self.by_subject[subject] = now
            self.by_message_id.setdefault(message_id, now)
            self.cond.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


def measure_ceiling(inbox: CountingInbox, port: int, n: int) -> dict[str, Any]:
    """n small messages over one reused smtplib connection: messages per second."""
    template = ("From: bench@bench.example\r\nTo: {to}\r\nSubject: ceiling {i}\r\n"
                "Message-ID: <ceiling-{i}-{tag}@bench.example>\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                "A small message, about the size of a notification.\r\n")
    tag = secrets.token_hex(4)
    before = inbox.count
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        started = time.perf_counter()
        for i in range(n):
            client.sendmail("bench@bench.example", [OFFICER_EMAIL],
                            template.format(to=OFFICER_EMAIL, i=i, tag=tag).encode())
        elapsed = time.perf_counter() - started
    received = inbox.count - before
    if received != n:
        raise SystemExit(f"FAIL: the SMTP server counted {received} of {n} ceiling messages")
    return {"messages": n, "seconds": round(elapsed, 3), "per_s": n / elapsed}


# --- the services ----------------------------------------------------------------------------

def service_env(partners_url: str, notify_url: str, partners_base: str, notify_base: str,
                keys_dir: Path, key_prefix: str, smtp_port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RATELIMIT_STORAGE_URI", "CELERY_BROKER_URL", "CHANNEL_RATE_LIMITS",
                 "SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS"):
        env.pop(name, None)  # nothing from the caller's shell changes what is measured
    env.update({
        "PARTNERS_DATABASE_URL": partners_url,
        "NOTIFY_DATABASE_URL": notify_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_KEY_PREFIX": key_prefix,
        "SERVICE_CLIENTS": f"notify={secrets.token_urlsafe(24)}",
        "PARTNERS_URL": partners_base,
        "NOTIFY_URL": notify_base,
        "JWT_KEYS_DIR": str(keys_dir),
        "JWT_CREATE_KEY_IF_MISSING": "false",  # made before start: every process shares it
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "DELIVERY_BACKOFF_S": "1",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    return env


def wait_worker(celery: Any, process: Any, log_path: Path, seconds: float = 90) -> None:
    """Until the Celery worker answers a ping on its app's broker (same key prefix)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the Celery worker exited ({process.returncode}); see "
                             f"{log_path}:\n{tail(log_path)}")
        if celery.control.ping(timeout=1.0):
            return
    raise SystemExit(f"the Celery worker did not answer a ping within {seconds:.0f} s; "
                     f"see {log_path}:\n{tail(log_path)}")


def drop_redis_keys(prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
        return len(keys)
    finally:
        client.close()


def add_officer(notify_url: str) -> None:
    """One active DP3A officer (Indonesian), email only for every event type."""
    engine = sa.create_engine(notify_url)
    try:
        with Session(engine) as session:
            officer = Recipient(id=uuid.uuid4(), organisation_id=None, email=OFFICER_EMAIL,
                                name="Petugas DP3A Bench", role="dp3a_officer",
                                region_codes=["32.75"], locale="id", is_active=True)
            session.add(officer)
            session.flush()
            session.add(Preference(recipient_id=officer.id, event_type="*",
                                   channels=["email"], muted=False))
            session.commit()
    finally:
        engine.dispose()


def registered(session: Session, name: str) -> uuid.UUID:
    """An `organisation.registered` outbox row, as organisations.register emits it."""
    organisation_id = uuid.uuid4()
    return outbox.emit(session, "organisation.registered", "organisation", organisation_id, {
        "organisation_id": str(organisation_id), "name": name, "kind": "company",
        "address_region": "32.75.11.1004"})


def subject_of(name: str) -> str:
    return f"Pendaftaran mitra baru: {name}"  # the Indonesian default template


def outbox_stats(partners_url: str) -> dict[str, Any]:
    engine = sa.create_engine(partners_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.text(
                "SELECT count(*), count(published_at), "
                "extract(epoch FROM max(published_at) - min(occurred_at)), "
                "coalesce(sum(attempts), 0) FROM outbox")).one()
    finally:
        engine.dispose()
    return {"rows": row[0], "published": row[1],
            "relay_span_s": round(float(row[2] or 0), 3), "failed_attempts": int(row[3])}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))
    return ordered[index]


def print_table(result: dict[str, Any]) -> None:
    goals = result["goals"]
    rows = [
        ("SMTP ceiling (one smtplib connection)", f"{result['ceiling_per_s']:.0f} msg/s", ""),
        (f"burst: {result['burst']['events']} events via outbox relay",
         f"{result['notify_per_s']:.0f} msg/s",
         f">= {goals['notify_per_s']['min_per_s']:.0f}/s "
         f"{'PASS' if goals['notify_per_s']['pass'] else 'MISS'}"),
        ("  ratio to ceiling", f"{result['ratio_to_ceiling']:.2f}", ">= 0.25"),
        ("  burst seconds (start to last email)", f"{result['burst']['seconds']:.2f} s", ""),
        (f"single events ({result['singles']['events']}) p50",
         f"{result['latency_p50_ms']:.0f} ms", ""),
        ("single events p95", f"{result['latency_p95_ms']:.0f} ms",
         f"< {GOAL_P95_MS:.0f} ms {'PASS' if goals['latency_p95_ms']['pass'] else 'MISS'}"),
        ("single events max", f"{result['singles']['max_ms']:.0f} ms", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for label, value, goal in rows:
        print(f"  {label:<{width}}  {value:>12}  {goal}")
    print()


# --- main ------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events in the burst")
    parser.add_argument("--singles", type=int, default=200, help="events one at a time")
    parser.add_argument("--ceiling-messages", type=int, default=2000)
    parser.add_argument("--notify-concurrency", type=int, default=2,
                        help="prefork processes of notify's Celery worker")
    parser.add_argument("--burst-timeout", type=float, default=300)
    parser.add_argument("--single-timeout", type=float, default=15)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    def _terminate(signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    load_at_start = round(os.getloadavg()[0], 2)
    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    databases = {"partners": f"mitra_bench_notify_partners_{tag}",
                 "notify": f"mitra_bench_notify_notify_{tag}"}
    key_prefix = f"mitra-bench-notify-{tag}:"
    workdir = Path(tempfile.mkdtemp(prefix="mitra-bench-notify-"))
    processes = Processes(workdir)
    created: list[str] = []
    celery_apps: list[Any] = []
    inbox = CountingInbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    ok = False
    try:
        log(f"SMTP server (aiosmtpd) on 127.0.0.1:{smtp_port}; ceiling: "
            f"{args.ceiling_messages} messages over one smtplib connection")
        ceiling = measure_ceiling(inbox, smtp_port, args.ceiling_messages)
        log(f"ceiling {ceiling['per_s']:.0f} messages/s")

        log(f"creating databases {', '.join(databases.values())} and migrating them")
        partners_url = create_database(databases["partners"])
        created.append(databases["partners"])
        notify_url = create_database(databases["notify"])
        created.append(databases["notify"])
        upgrade(partners.MIGRATIONS, partners_url)
        upgrade(notify.MIGRATIONS, notify_url)
        add_officer(notify_url)

        keys_dir = workdir / "keys"
        KeyRing(keys_dir, create_if_empty=True)
        partners_port, notify_port = free_port(), free_port()
        partners_base = f"http://127.0.0.1:{partners_port}"
        notify_base = f"http://127.0.0.1:{notify_port}"
        env = service_env(partners_url, notify_url, partners_base, notify_base, keys_dir,
                          key_prefix, smtp_port)

        log("starting partners and notify (gunicorn -w 2 each) and their Celery workers")
        partners_proc, _, partners_log = processes.start_gunicorn(
            "partners", "services.partners:create_app()", env, workers=2, port=partners_port)
        notify_proc, _, notify_log = processes.start_gunicorn(
            "notify", "services.notify:create_app()", env, workers=2, port=notify_port)
        notify_worker, notify_worker_log = processes.spawn("notify-worker", [
            sys.executable, "-m", "celery", "-A", "services.notify.worker:celery", "worker",
            "-Q", "notify,periodic", "-c", str(args.notify_concurrency), "-P", "prefork",
            "--loglevel", "WARNING", "-n", f"bench-notify-{tag}@%h"], env)
        partners_worker, partners_worker_log = processes.spawn("partners-worker", [
            sys.executable, "-m", "celery", "-A", "services.partners.worker:celery", "worker",
            "-Q", "outbox", "-c", "1", "--loglevel", "WARNING",
            "-n", f"bench-partners-{tag}@%h"], env)
        wait_ready(f"{partners_base}/readyz", partners_proc, partners_log)
        wait_ready(f"{notify_base}/readyz", notify_proc, notify_log)

        common_overrides = {"REDIS_URL": REDIS_URL, "CELERY_KEY_PREFIX": key_prefix,
                            "PARTNERS_URL": partners_base, "NOTIFY_URL": notify_base,
                            "LOG_LEVEL": "WARNING", "ACCESS_LOG": False}
        # The partners app in this process: its session factory carries the relay's
        # after-commit trigger, which queues partners.relay_outbox on our broker prefix.
        partners_app = partners.create_app({
            **common_overrides, "DATABASE_URL": partners_url, "JWT_KEYS_DIR": keys_dir,
            "JWT_CREATE_KEY_IF_MISSING": False})
        notify_app = notify.create_app({**common_overrides, "DATABASE_URL": notify_url})
        celery_apps += [partners_app.extensions["celery"], notify_app.extensions["celery"]]
        wait_worker(notify_app.extensions["celery"], notify_worker, notify_worker_log)
        wait_worker(partners_app.extensions["celery"], partners_worker, partners_worker_log)

        groups = {"partners_api": partners_proc.pid, "notify_api": notify_proc.pid,
                  "notify_worker": notify_worker.pid, "partners_worker": partners_worker.pid}
        pg = {f"postgres_{k}": v for k, v in databases.items()}

        def send_one(name: str) -> float:
            """One event written and committed through the partners app; the latency (s)
            from just before the write to its email's arrival."""
            subject = subject_of(name)
            with partners_app.app_context():
                session = partners_db.session_factory()
                try:
                    started = time.perf_counter()
                    registered(session, name)
                    session.commit()  # the after-commit trigger queues the relay task
                finally:
                    session.close()
            if not inbox.wait(lambda: subject in inbox.by_subject, args.single_timeout):
                raise SystemExit(f"FAIL: the email for {name!r} did not arrive within "
                                 f"{args.single_timeout:.0f} s; logs in {workdir}:\n"
                                 f"{tail(notify_worker_log)}\n{tail(partners_worker_log)}")
            return inbox.by_subject[subject] - started

        log("warm-up: 10 single events (token keys fetched, SMTP connections opened)")
        for i in range(10):
            send_one(f"Warm-up {i} {tag}")

        # --- the burst ---
        log(f"burst: {args.events} outbox rows in one transaction, relayed to notify")
        burst_names = [f"Burst {i:05d} {tag}" for i in range(args.events)]
        burst_subjects = {subject_of(n) for n in burst_names}
        count_before = inbox.count
        cpu_before = cpu_seconds(groups, pg)
        with partners_app.app_context():
            session = partners_db.session_factory()
            try:
                started = time.perf_counter()
                for name in burst_names:
                    registered(session, name)
                session.commit()  # one transaction; the after-commit trigger queues the relay
                committed = time.perf_counter()
            finally:
                session.close()
        expected = count_before + args.events
        arrived = inbox.wait(lambda: inbox.count >= expected, args.burst_timeout)
        if not arrived:
            raise SystemExit(f"FAIL: {inbox.count - count_before} of {args.events} burst emails "
                             f"arrived within {args.burst_timeout:.0f} s; logs in {workdir}:\n"
                             f"{tail(notify_worker_log)}\n{tail(partners_worker_log)}")
        last = max(inbox.by_subject[s] for s in burst_subjects if s in inbox.by_subject)
        missing = sum(1 for s in burst_subjects if s not in inbox.by_subject)
        burst_s = last - started
        burst_cpu = cpu_used(cpu_before, cpu_seconds(groups, pg))
        notify_per_s = args.events / burst_s
        log(f"burst: {args.events} emails in {burst_s:.2f} s = {notify_per_s:.0f}/s "
            f"(rows written and committed in {committed - started:.2f} s)")
        if missing:
            raise SystemExit(f"FAIL: {missing} burst emails missing (other messages arrived)")
        relay = outbox_stats(partners_url)

        # --- single events ---
        log(f"single events: {args.singles}, one at a time, each waiting for its email")
        latencies = [send_one(f"Single {i:04d} {tag}") * 1000 for i in range(args.singles)]
        p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
        log(f"latency p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        # Anything sent twice would show up a little later: give it a moment.
        time.sleep(1.0)

        ceiling_per_s = ceiling["per_s"]
        min_per_s = max(GOAL_MIN_PER_S, GOAL_CEILING_SHARE * ceiling_per_s)
        result = {
            "ceiling_per_s": round(ceiling_per_s, 1),
            "notify_per_s": round(notify_per_s, 1),
            "latency_p50_ms": round(p50, 1),
            "latency_p95_ms": round(p95, 1),
            "ratio_to_ceiling": round(notify_per_s / ceiling_per_s, 3),
            "ceiling": {"messages": ceiling["messages"], "seconds": ceiling["seconds"]},
            "burst": {"events": args.events, "emails": args.events - missing,
                      "seconds": round(burst_s, 3),
                      "write_and_commit_s": round(committed - started, 3),
                      "outbox": relay, "cpu_s": burst_cpu},
            "singles": {"events": args.singles, "path": "outbox row committed through the "
                        "partners app's db.session_factory -> after-commit trigger -> "
                        "partners.relay_outbox -> POST notify /api/v1/events/batch -> "
                        "fan-out -> email task -> SMTP",
                        "min_ms": round(min(latencies), 1), "max_ms": round(max(latencies), 1),
                        "mean_ms": round(statistics.fmean(latencies), 1),
                        "p99_ms": round(percentile(latencies, 0.99), 1)},
            "smtp_total_messages": inbox.count,
            "repeated_subjects": inbox.repeated_subjects,
            "setup": {"partners": "gunicorn -w 2 (sync)", "notify": "gunicorn -w 2 (sync)",
                      "notify_worker": f"celery worker -Q notify,periodic "
                                       f"-c {args.notify_concurrency} (prefork)",
                      "partners_worker": "celery worker -Q outbox -c 1",
                      "smtp": "aiosmtpd in a thread of the bench process",
                      "recipients": "1 DP3A officer, email only"},
            "goals": {
                "notify_per_s": {"rule": "notify_per_s >= ceiling_per_s / 4 and >= 300/s "
                                         "(6 x GOV.UK Notify's default 50/s)",
                                 "min_per_s": round(min_per_s, 1),
                                 "pass": notify_per_s >= min_per_s},
                "latency_p95_ms": {"rule": f"latency_p95_ms < {GOAL_P95_MS:g}",
                                   "pass": p95 < GOAL_P95_MS},
            },
            "loadavg_1min_at_start": load_at_start,
            "machine": machine_info(**_versions()),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print_table(result)
        if inbox.repeated_subjects:
            log(f"WARNING: {inbox.repeated_subjects} emails arrived more than once")
        ok = True
        return 0 if all(g["pass"] for g in result["goals"].values()) else 2
    finally:
        processes.stop_all()
        for celery in celery_apps:
            try:
                celery.close()
            except Exception:  # noqa: BLE001
                pass
        controller.stop()
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
    import aiosmtpd
    import celery
    import gunicorn

    return {"gunicorn": gunicorn.__version__, "celery": celery.__version__,
            "aiosmtpd": aiosmtpd.__version__}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            sys.exit(1)
        raise
