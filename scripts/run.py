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
SERVICES = [("partners", 8001), ("matching", 8002), ("notify", 8003)]
PORTAL_PORT = 8000  # the web pages, started after the APIs
# Celery processes: (name, arguments after `celery -A services.<service>.worker`). Each
# service's queues are its own (shared/celery.py), so every service has its worker and beat.
WORKERS = [
    ("partners-worker", "partners", ["worker", "-Q", "outbox,periodic", "-c", "1",
                                     "--loglevel", "INFO"]),
    ("partners-beat", "partners", ["beat", "--loglevel", "INFO"]),
    ("matching-worker", "matching", ["worker", "-Q", "matching,periodic,outbox", "-c", "1",
                                     "--loglevel", "INFO"]),
    ("matching-beat", "matching", ["beat", "--loglevel", "INFO"]),
    ("notify-worker", "notify", ["worker", "-Q", "notify,periodic", "-c", "1",
                                 "--loglevel", "INFO"]),
    ("notify-beat", "notify", ["beat", "--loglevel", "INFO"]),
]
MAIL_SMTP_PORT, MAIL_WEB_PORT = 8025, 8026


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

    processes: list[subprocess.Popen] = []
    # SIGTERM (e.g. from `timeout`) stops everything, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    # The mail catcher first: notify sends to it (SMTP_PORT's default) as soon as it runs.
    env.setdefault("SMTP_HOST", "127.0.0.1")
    env.setdefault("SMTP_PORT", str(MAIL_SMTP_PORT))
    catcher = env["SMTP_HOST"] == "127.0.0.1" and env["SMTP_PORT"] == str(MAIL_SMTP_PORT)
    try:
        if catcher:
            processes.append(start("mailcatcher", [
                sys.executable, str(ROOT / "scripts" / "mailcatcher.py"), "--smtp-port",
                str(MAIL_SMTP_PORT), "--http-port", str(MAIL_WEB_PORT), "--dir",
                str(VAR / "mail")], env))
        for name, port in SERVICES:
            processes.append(start(name, [
                sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                f"services.{name}:create_app()"], env))
        for name, service, arguments in WORKERS:
            extra = (["--schedule", str(VAR / f"celerybeat-{service}")] if "beat" in arguments
                     else [])
            processes.append(start(name, [
                sys.executable, "-m", "celery", "-A", f"services.{service}.worker:celery",
                *arguments, *extra], env))
        for name, port in SERVICES:
            wait_for(f"http://127.0.0.1:{port}/readyz", name)
        # The portal calls the APIs; plain http on this machine, so no Secure-only cookie.
        env.setdefault("SESSION_COOKIE_SECURE", "false")
        env.setdefault("MATCHING_URL", "http://127.0.0.1:8002")
        processes.append(start("portal", [
            sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{PORTAL_PORT}",
            "services.portal:create_app()"], env))
        wait_for(f"http://127.0.0.1:{PORTAL_PORT}/healthz", "portal")
        if catcher:
            wait_for(f"http://127.0.0.1:{MAIL_WEB_PORT}/", "mailcatcher")
        print("\nMitra is running (Ctrl-C stops it):")
        print(f"  portal    http://127.0.0.1:{PORTAL_PORT}/   (sign in with a demo login below)")
        for name, port in SERVICES:
            print(f"  {name:9} http://127.0.0.1:{port}/api/docs   (API docs)")
        if catcher:
            print(f"  mail      http://127.0.0.1:{MAIL_WEB_PORT}/   (every email the demo sends; "
                  f"SMTP on 127.0.0.1:{MAIL_SMTP_PORT})")
        else:
            print(f"  mail      sent through {env['SMTP_HOST']}:{env['SMTP_PORT']}")
        broker = "Redis" if env.get("REDIS_URL") else "SQLite (kombu's SQLAlchemy transport)"
        print(f"  workers   partners, matching and notify (Celery on {broker}), each with beat")
        print(f"  logs      {VAR}/*.log")
        print("".join(seeded))
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        print("a service stopped; see its log in var/", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A process whose output goes to var/<name>.log."""
    with open(VAR / f"{name}.log", "ab") as log:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)


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
