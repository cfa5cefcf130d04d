"""Helpers the benchmarks share: scratch PostgreSQL databases, processes started in their own
process group (gunicorn, Celery) and always stopped, readiness checks, CPU accounting and a
description of the machine. Everything stays on 127.0.0.1."""
from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL_TEMPLATE = os.environ.get("BENCH_PG_URL_TEMPLATE",
                                 "postgresql+psycopg://postgres@127.0.0.1:5432/{database}")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- databases -------------------------------------------------------------------------------

def create_database(name: str) -> str:
    """A fresh, empty database (an old one of the same name is dropped); its SQLAlchemy URL."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return PG_URL_TEMPLATE.format(database=name)


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL) as connection:
            return connection.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return None


# --- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Processes:
    """Processes this run started, each in its own process group (a gunicorn master and its
    workers, a Celery worker and its pool), all stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []

    def spawn(self, name: str, command: list[str], env: dict[str, str]
              ) -> tuple[subprocess.Popen, Path]:
        """Start `command` in its own process group, its output to `<workdir>/<name>.log`."""
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "ab") as handle:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=handle,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process, log_path

    def start_gunicorn(self, name: str, app: str, env: dict[str, str], workers: int = 2,
                       extra: list[str] | None = None, port: int | None = None
                       ) -> tuple[subprocess.Popen, int, Path]:
        """gunicorn with `workers` sync workers on `port` (default: a free one) of 127.0.0.1."""
        port = port or free_port()
        process, log_path = self.spawn(name, [
            sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
            *(extra or []), app], env)
        return process, port, log_path

    def stop(self, process: subprocess.Popen, timeout: float = 15) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)  # the master and its children
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=5)
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)


def wait_ready(url: str, process: subprocess.Popen, log_path: Path, seconds: float = 60) -> None:
    """Until `url` answers 200; a clear error (with the log's tail) when the process exits or
    the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited ({process.returncode}); see "
                             f"{log_path}:\n{tail(log_path)}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s; see {log_path}:\n"
                     f"{tail(log_path)}")


# --- CPU accounting --------------------------------------------------------------------------

HZ = os.sysconf("SC_CLK_TCK")


def ticks(pid: int | str) -> int:
    """user + system clock ticks of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(groups: dict[str, int], databases: dict[str, str]) -> dict[str, float]:
    """CPU seconds so far of each process group (name → group id), of the PostgreSQL
    backends of each database (name → database) and of the whole machine (`machine`, from
    /proc/stat: everything but idle and iowait)."""
    out = {name: 0 for name in [*groups, *databases]}
    by_group = {pgid: name for name, pgid in groups.items()}
    needles = {name: database.encode() for name, database in databases.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name = by_group.get(os.getpgid(int(entry)))
            if name is not None:
                out[name] += ticks(entry)
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres"):
            for db_name, needle in needles.items():
                if needle in cmdline.split(b" "):
                    out[db_name] += ticks(entry)
                    break
    with open("/proc/stat") as handle:
        cpu = [int(x) for x in handle.readline().split()[1:]]
    seconds = {name: value / HZ for name, value in out.items()}
    seconds["machine"] = (sum(cpu) - cpu[3] - (cpu[4] if len(cpu) > 4 else 0)) / HZ
    return seconds


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each used between two `cpu_seconds` snapshots; `other` is what the rest
    of the machine (this process, other users' work) used meanwhile."""
    used = {name: round(after[name] - before[name], 2) for name in before if name != "machine"}
    machine = after["machine"] - before["machine"]
    used["other"] = round(max(0.0, machine - sum(used.values())), 2)
    return used


def machine_busy_cores(window: float = 2.0) -> float:
    """How many cores the whole machine kept busy over the next `window` seconds."""
    def busy() -> tuple[float, float]:
        with open("/proc/stat") as handle:
            cpu = [int(x) for x in handle.readline().split()[1:]]
        return (sum(cpu) - cpu[3] - (cpu[4] if len(cpu) > 4 else 0)) / HZ, time.monotonic()

    before, started = busy()
    time.sleep(window)
    after, ended = busy()
    return (after - before) / (ended - started)


def wait_until_quiet(max_cores: float, seconds: float, window: float = 2.0) -> float:
    """Wait (at most `seconds`) until the machine keeps fewer than `max_cores` cores busy
    over a `window`; the last figure seen."""
    deadline = time.monotonic() + seconds
    cores = machine_busy_cores(window)
    while cores >= max_cores and time.monotonic() < deadline:
        cores = machine_busy_cores(window)
    return cores


# --- the machine -----------------------------------------------------------------------------

def machine_info(**extra: Any) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(), "platform": platform.platform(),
        "postgresql": postgres_version(), **extra,
    }


# --- what generated instances are made of (matching_engine.py and matching_run.py) --------

KINDS = ("funding", "module", "trainer", "facility")
KIND_SHARE = (0.25, 0.25, 0.35, 0.15)
TOPICS_BY_KIND = {
    "funding": ["insentif_fasilitator", "sarana_prasarana", "bahan_ajar", "kewirausahaan",
                "pelatihan_fasilitator", "penelitian", "literasi_digital"],
    "module": ["kewirausahaan", "manajemen_keuangan", "pemasaran_digital", "literasi_digital",
               "ketahanan_keluarga", "kesehatan_keluarga", "parenting", "pencegahan_kdrt",
               "kesetaraan_gender", "hak_perempuan", "perlindungan_anak", "bahan_ajar"],
    "trainer": ["kewirausahaan", "manajemen_keuangan", "pemasaran_digital", "literasi_digital",
                "keterampilan_dasar", "citra_diri_perempuan", "tanggap_bencana", "parenting",
                "pencegahan_kdrt", "kesehatan_keluarga", "pelatihan_fasilitator",
                "hak_perempuan"],
    "facility": ["sarana_prasarana", "keterampilan_dasar", "literasi_digital", "bahan_ajar",
                 "tanggap_bencana"],
}
PHRASES = {
    "kewirausahaan": "usaha mikro wirausaha modal produk jualan",
    "manajemen_keuangan": "keuangan keluarga tabungan pembukuan anggaran kas",
    "pemasaran_digital": "pemasaran digital media sosial toko daring promosi",
    "literasi_digital": "literasi digital gawai internet aman aplikasi",
    "ketahanan_keluarga": "ketahanan keluarga komunikasi pasangan rumah tangga",
    "kesehatan_keluarga": "kesehatan keluarga gizi posyandu stunting",
    "keterampilan_dasar": "keterampilan menjahit memasak kerajinan tangan",
    "citra_diri_perempuan": "percaya diri citra diri kepemimpinan perempuan",
    "tanggap_bencana": "tanggap bencana evakuasi banjir siaga",
    "kesetaraan_gender": "kesetaraan gender peran setara keputusan",
    "pencegahan_kdrt": "pencegahan kekerasan rumah tangga pengaduan perlindungan",
    "parenting": "pengasuhan anak remaja orang tua",
    "perlindungan_anak": "perlindungan anak hak anak pengasuhan aman",
    "hak_perempuan": "hak perempuan hukum pendampingan",
    "pelatihan_fasilitator": "pelatihan fasilitator metode mengajar pendampingan kelas",
    "insentif_fasilitator": "insentif honor fasilitator kader",
    "sarana_prasarana": "sarana prasarana ruang kelas kursi proyektor",
    "bahan_ajar": "bahan ajar modul buku lembar kerja",
    "penelitian": "penelitian kajian evaluasi program survei",
}
KIND_WORDS = {"funding": "dana hibah bantuan", "module": "modul materi kelas",
              "trainer": "narasumber pelatih sesi", "facility": "fasilitas tempat peralatan"}
