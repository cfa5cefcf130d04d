"""`make run`: the whole system on one machine, on its embedded default.

SQLite files under var/, the services under gunicorn, the Kota Bekasi demo seeded; prints
where to look and the demo logins, and stops everything on Ctrl-C."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("MITRA_VAR_DIR", ROOT / "var"))
SERVICES = [("partners", 8001), ("matching", 8002)]  # notify 8003 and portal 8000 follow
# Celery processes: (name, arguments after `celery -A services.<service>.worker`)
WORKERS = [
    ("matching-worker", "matching", ["worker", "-Q", "matching,periodic", "-c", "1",
                                     "--loglevel", "INFO"]),
    ("matching-beat", "matching", ["beat", "--loglevel", "INFO"]),
]


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "use the embedded default"
        return False


def service_secrets() -> dict[str, str]:
    """Client secrets for service-to-service tokens, made once per installation."""
    path = VAR / "service-clients.env"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        lines = [f"{name}={secrets.token_urlsafe(24)}" for name in ("matching", "notify",
                                                                    "portal")]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text().split())


def main() -> int:
    env = dict(os.environ)
    env.setdefault("MITRA_VAR_DIR", str(VAR))
    env["PYTHONPATH"] = str(ROOT)
    if env.get("REDIS_URL") and not redis_answers(env["REDIS_URL"]):
        print(f"REDIS_URL {env['REDIS_URL']} does not answer; using the embedded default.")
        env.pop("REDIS_URL")
    clients = service_secrets()
    env.setdefault("SERVICE_CLIENTS", ",".join(f"{k}={v}" for k, v in clients.items()))
    env.setdefault("MATCHING_CLIENT_SECRET", clients["matching"])
    seeded = []
    for name, _ in SERVICES:
        flask = [sys.executable, "-m", "flask", "--app", f"services.{name}:create_app"]
        subprocess.run([*flask, "migrate"], env=env, check=True, cwd=ROOT)
        seeded.append(subprocess.run([*flask, "seed-demo"], env=env, check=True, cwd=ROOT,
                                     capture_output=True, text=True).stdout)

    processes = []
    for name, port in SERVICES:
        log = open(VAR / f"{name}.log", "ab")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
             f"services.{name}:create_app()"], env=env, cwd=ROOT, stdout=log, stderr=log))
    for name, service, arguments in WORKERS:
        log = open(VAR / f"{name}.log", "ab")
        extra = ["--schedule", str(VAR / "celerybeat-schedule")] if "beat" in arguments else []
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", f"services.{service}.worker:celery", *arguments,
             *extra], env=env, cwd=ROOT, stdout=log, stderr=log))
    try:
        for name, port in SERVICES:
            wait_for(f"http://127.0.0.1:{port}/readyz", name)
        print("\nMitra is running (Ctrl-C stops it):")
        for name, port in SERVICES:
            print(f"  {name:9} http://127.0.0.1:{port}/api/docs   (API docs)")
        broker = "Redis" if env.get("REDIS_URL") else "SQLite (kombu's SQLAlchemy transport)"
        print(f"  workers   matching (Celery on {broker}), beat")
        print(f"  logs      {VAR}/*.log")
        print("".join(seeded))
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        print("a service stopped; see its log in var/", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=10)


def wait_for(url: str, name: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{name} did not become ready at {url}; see var/{name}.log")


if __name__ == "__main__":
    sys.exit(main())
