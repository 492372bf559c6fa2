"""The audit service's ingest path in one process, for its CPU per event: `--events` chained
events (as bench/audit_ingest.py publishes them) are queued in a vhost of their own before
a real audit service container starts on a fresh database (SQLite file or PostgreSQL); the
process's CPU time and the wall time are read between the first and the last event
recorded. `--profile FILE` writes cProfile's statistics of that stretch, timed in CPU time;
`--spy FILE` py-spy's raw stacks of it (sampled, far less overhead than cProfile).
Prints one line; nothing else runs in the process, so the CPU is the ingest's alone (the
broker and PostgreSQL are other processes: their CPU is not in the figure).

`--receive-only` replaces the handler by one that records nothing: what receiving,
decoding and acknowledging cost alone. `--handler-only` times the handler alone
(services.audit.service.record_events, batches of 500 decoded events, no broker), several
rounds on one database: the least CPU per event of a round is the figure least moved by
other work on the machine.

    .venv/bin/python bench/audit_consumer.py [--backend sqlite|postgresql] [--events 50000]
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_ingest import queue_backlog  # noqa: E402
from common import MANAGEMENT, ROOT, postgres_databases  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def vhost() -> str:
    name = f"bench-consumer-{uuid.uuid4().hex[:6]}"
    auth = ("guest", "guest")
    requests.put(f"{MANAGEMENT}/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{name}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    return name


def spy(out: str) -> subprocess.Popen:
    """py-spy sampling this process into `out` (raw stacks) until sent SIGINT."""
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid",
                             str(os.getpid()), "--format", "raw", "--rate", "250",
                             "--nonblocking", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(env: dict, count: int, profile: str, spy_out: str = "", receive_only=False) -> dict:
    """Queue `count` events, start the audit service with `env`, wait until it recorded
    them: {"rate", "cpu_us", "events"} over the stretch between the first and last.
    `receive_only`: the handler counts the events instead of recording them."""
    from nameko.containers import ServiceContainer
    from sqlalchemy import create_engine, func, select

    from services.audit.models import audit_events
    from services.audit.service import Service
    from services.audit.settings import AuditSettings
    from svckit.batch_consumer import BatchEventConsumer
    from svckit.container_settings import container_config

    batches = []  # (events, seconds in the handler) of each batch
    deliver = BatchEventConsumer._deliver

    def timed(consumer, pending):  # the handler's share of the wall time, and batch sizes
        began = time.monotonic()
        deliver(consumer, pending)
        batches.append((len(pending), time.monotonic() - began))
    BatchEventConsumer._deliver = timed
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "svckit.migrate"], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    queue_backlog(env["AMQP_URI"], count)
    settings = AuditSettings()
    engine = create_engine(settings.database_url("audit"))
    container = ServiceContainer(Service, container_config(settings))
    profiler = cProfile.Profile(time.process_time) if profile else None

    counted = {"events": 0}

    def recorded() -> int:
        if receive_only:
            return counted["events"]
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(audit_events)).scalar()

    if receive_only:
        def count_only(_consumer, bodies):
            counted["events"] += len(bodies)
        BatchEventConsumer._handle = count_only

    container.start()
    try:
        while (first := recorded()) == 0:
            eventlet.sleep(0.01)
        t0, c0 = time.monotonic(), cpu()
        del batches[:]
        if profiler:
            profiler.enable()
        sampler = spy(spy_out) if spy_out else None
        while (last := recorded()) < count:
            eventlet.sleep(0.2)
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        if sampler:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(60)
        t1, c1 = time.monotonic(), cpu()
        inside = list(batches)
    finally:
        container.stop()
        engine.dispose()
    events = last - first
    return {"events": events, "rate": events / (t1 - t0), "cpu_us": (c1 - c0) * 1e6 / events,
            "batches": len(inside), "batch_mean": sum(n for n, _ in inside) / max(len(inside), 1),
            "handler_share": sum(t for _, t in inside) / (t1 - t0)}


def handler_cost(env: dict, count: int, rounds: int) -> list[float]:
    """CPU µs per event of record_events over `count` events, each of `rounds` times."""
    import json

    from audit_ingest import bodies
    from services.audit.models import metadata
    from services.audit.service import record_events
    from svckit.db import Database

    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "svckit.migrate"], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    from services.audit.settings import AuditSettings
    db = Database(AuditSettings().database_url("audit"), metadata)
    costs = []
    for round_ in range(rounds):
        events = [json.loads(body) for _, body in bodies(count)]
        for event in events:  # each round's events are new to the trail
            event["id"] = f"{event['id']}-{round_}"
        used = 0.0
        for start in range(0, count, 500):
            began = time.process_time()
            record_events(db, events[start:start + 500], b"bench-key")
            used += time.process_time() - began
        costs.append(used * 1e6 / count)
    db.dispose()
    return costs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--profile", default="")
    parser.add_argument("--spy", default="")
    parser.add_argument("--handler-only", action="store_true")
    parser.add_argument("--receive-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    name = vhost()
    load = os.getloadavg()[0]
    try:
        with ExitStack() as resources:
            data = resources.enter_context(tempfile.TemporaryDirectory(prefix="audit-consumer-"))
            env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{name}",
                   "INVENTREE_DATA_DIR": data, "LOG_LEVEL": "WARNING"}
            if args.backend == "postgresql":
                env.update(resources.enter_context(postgres_databases(args.postgres, ["audit"])))
            else:
                env["AUDIT_DATABASE_URL"] = f"sqlite:///{data}/audit.sqlite3"
            if args.handler_only:
                costs = handler_cost(env, args.events, args.rounds)
                print(f"{args.backend}: the handler alone, {args.events:,} events a round: "
                      f"{min(costs):.1f} µs of CPU an event at least, rounds "
                      f"{', '.join(f'{c:.1f}' for c in costs)} (load average {load:.1f})")
                return
            result = run(env, args.events, args.profile, args.spy, args.receive_only)
    finally:
        requests.delete(f"{MANAGEMENT}/vhosts/{name}", auth=("guest", "guest"), timeout=10)
    print(f"{args.backend}: {result['events']:,} events at {result['rate']:,.0f}/s, "
          f"{result['cpu_us']:.1f} µs of CPU an event; {result['batches']} batches of "
          f"{result['batch_mean']:.0f} on average, {result['handler_share']:.0%} of the time "
          f"in the handler (load average {load:.1f} -> {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
