"""What the benchmark scripts share: wrk, a stack of their own, CPU readings from /proc."""
import os
import re
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svckit.stack import Stack  # noqa: E402

MANAGEMENT = "http://127.0.0.1:15672/api"
ADMIN = ("admin", "bench-pass-123")
TICK = os.sysconf("SC_CLK_TCK")


def ensure_wrk():
    if shutil.which("wrk"):
        return
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


@contextmanager
def bench_stack(name: str, port: int, extra_env: dict | None = None, seed=None, wrk=True,
                process_env: dict | None = None):
    """A started stack (2 gateway workers, SQLite) in its own RabbitMQ vhost and data
    directory `var/<name>`, with the superuser ADMIN and `extra_env` (`process_env`: one
    process's own, see svckit.stack.Stack); `seed(stack)` runs after the migration, before
    any service starts. Yields (stack, admin token, what seed returned). `wrk`: install wrk
    first (the load benchmarks need it)."""
    if wrk:
        ensure_wrk()
    vhost = f"{name}-{uuid.uuid4().hex[:6]}"
    auth = ("guest", "guest")
    requests.put(f"{MANAGEMENT}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{vhost}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    data = ROOT / "var" / name
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
           "INVENTREE_DATA_DIR": str(data), "INVENTREE_ADMIN_PASSWORD": ADMIN[1],
           "GATEWAY_WORKERS": "2", "LOG_LEVEL": "WARNING", "CURRENCY_UPDATE_INTERVAL": "0",
           "NEWS_FEED_INTERVAL": "0", **(extra_env or {})}
    stack = Stack(env, bind=f"127.0.0.1:{port}", log=open(data / "stack.log", "w"),
                  process_env=process_env)
    try:
        stack.run_tool("-m", "svckit.migrate")
        stack.run_tool("-m", "services.users.cli", "ensure-admin")
        seeded = seed(stack) if seed else None
        stack.start()
        token = requests.get(f"{stack.url}/api/user/token/", auth=ADMIN,
                             timeout=60).json()["token"]  # a loaded machine: slow first call
        yield stack, token, seeded
    finally:
        stack.stop()
        requests.delete(f"{MANAGEMENT}/vhosts/{vhost}", auth=auth, timeout=10)


@contextmanager
def postgres_databases(admin_url: str, services: list[str]):
    """Fresh PostgreSQL databases for `services`, dropped afterwards; yields the
    `<SERVICE>_DATABASE_URL` settings that point the services at them."""
    import psycopg2
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    names = {service: f"bench_{service}_{uuid.uuid4().hex[:8]}" for service in services}
    try:
        for name in names.values():
            admin.cursor().execute(f"CREATE DATABASE {name}")
        yield {f"{service.upper()}_DATABASE_URL": f"{base}/{name}"
               for service, name in names.items()}
    finally:
        for name in names.values():
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def write_report(name: str, lines: list[str]) -> Path:
    """Print the report and write it to bench/results/<name>-<date>.md."""
    out = ROOT / "bench" / "results" / f"{name}-{datetime.now():%Y%m%d-%H%M}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {out}")
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
