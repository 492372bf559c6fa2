"""The audit trail's five Performance figures with many events stored (issue 14), in one
table per run, on SQLite and PostgreSQL:

- filtered `GET /api/events/?limit=50` latency (p50/p99, one client at a time) and the CPU
  of a request in the gateway workers and the audit service;
- the export's events/s through the gateway (NDJSON of everything, CSV of one service),
  the gateway workers' RSS before and at most, and the CPU per exported event;
- the delivery latency of 100 concurrent live-feed listeners (from the write's request to
  each listener's receipt of its event: service, relay, RabbitMQ, audit ingest, the
  gateway's poller and the SSE answer);
- the write latency with 10 webhook subscriptions inactive and active (bench/webhooks.py's
  receivers);
- ingest: `--ingest-rate` events/s published for `--ingest-seconds` to a source's event
  exchange, and the audit trail's lag at the end of the burst (bench/audit_ingest.py).

The trail is seeded with `--events` rows straight into the audit table (after the
migration, before the services start), as the audit service records them (with their
lines); the seeding time is reported. SQLite always, PostgreSQL with `--postgres
ADMIN_URL`. Writes bench/results/audit-queries-<date>.md (after each backend, then the
whole table).

    .venv/bin/python bench/audit_queries.py [--events 1000000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""
import argparse
import csv
import io
import json
import os
import random
import shutil
import sqlite3
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import requests

import webhooks
from audit_ingest import measure_ingest
from common import ROOT, bench_stack, children, cpu_seconds, postgres_databases, write_report
from services.audit import eventlines

KINDS = [("status", "custom_state", ("created", "updated", "deleted")),
         ("attachments", "attachment", ("uploaded", "updated", "renamed", "deleted")),
         ("users", "user", ("created", "updated", "deleted")),
         ("users", "token", ("issued", "seen", "revoked")),
         ("importer", "import_session", ("created", "updated", "completed")),
         ("system", "project_code", ("created", "updated", "deleted"))]
ACTORS = 50
SEED_SEQ = 10**9
STREAMS = 20000
START = datetime(2026, 11, 1)
STEP = timedelta(seconds=2)
COLUMNS = ("event_id", "service", "seq", "stream_type", "stream_id", "version", "type",
           "payload", "actor", "request_id", "created", "received", "line")


def rows(count: int, rng: random.Random):
    seqs: dict[str, int] = {}
    for n in range(count):
        service, stream_type, verbs = KINDS[n % len(KINDS)]
        # far above the services' own sequences: their real events never collide
        seq = seqs[service] = seqs.get(service, SEED_SEQ) + 1
        moment = START + STEP * n
        created = moment.isoformat(sep=" ")
        event = {"id": f"{service}:{seq}", "service": service, "seq": seq,
                 "stream_type": stream_type, "stream_id": str(rng.randrange(STREAMS)),
                 "version": seq, "type": f"{stream_type}.{rng.choice(verbs)}",
                 "payload": {"name": f"n{n}", "label": "=cmd|' /C calc'!A0" if n % 997 == 0
                             else f"L{n}", "n": n},
                 "actor": f"user{rng.randrange(ACTORS)}", "request_id": f"{n // 3:032x}",
                 "created": moment.isoformat() + "Z"}
        # as the audit service records a received event (services.audit.auditevents)
        yield (event["id"], service, seq, stream_type, event["stream_id"], seq, event["type"],
               json.dumps(event["payload"]), event["actor"], event["request_id"], created,
               created, eventlines.line(event))


def seed(url: str, count: int) -> float:
    """Insert `count` events into the audit table at `url`; seconds taken."""
    rng = random.Random(14)
    began = time.perf_counter()
    record_types(url)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA cache_size = -400000")  # 400 MB: the indexes' pages stay in
        conn.executemany(f"INSERT INTO audit_event ({','.join(COLUMNS)}) VALUES "
                         f"({','.join('?' * len(COLUMNS))})", rows(count, rng))
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg2
        conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
        generated = rows(count, rng)
        while True:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            batch = 0
            for row in generated:
                writer.writerow(row)
                batch += 1
                if batch == 100000:
                    break
            if not batch:
                break
            buffer.seek(0)
            conn.cursor().copy_expert(
                f"COPY audit_event ({','.join(COLUMNS)}) FROM STDIN WITH CSV", buffer)
        conn.commit()
        conn.autocommit = True
        conn.cursor().execute("VACUUM ANALYZE audit_event")
        conn.close()
    return time.perf_counter() - began


def record_types(url: str):
    """The seeded rows' types in `audit_event_type`, as recording them adds them."""
    types = [(f"{stream_type}.{verb}",) for _, stream_type, verbs in KINDS for verb in verbs]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA cache_size = -400000")  # 400 MB: the indexes' pages stay in
        conn.executemany("INSERT OR IGNORE INTO audit_event_type (type) VALUES (?)", types)
        conn.commit()
    else:
        import psycopg2
        conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
        conn.cursor().executemany("INSERT INTO audit_event_type (type) VALUES (%s) "
                                  "ON CONFLICT DO NOTHING", types)
        conn.commit()
    conn.close()


def query_mix(count: int, rng: random.Random) -> list[tuple[str, dict]]:
    def moment() -> str:
        return (START + STEP * rng.randrange(count)).isoformat() + "Z"
    mix = []
    for _ in range(40):
        hour = START + STEP * rng.randrange(count)
        mix += [
            ("none", {}),
            ("service", {"service": "status"}),
            ("type wildcard", {"type": "attachment.*"}),
            ("type list", {"type": "user.*,custom_state.deleted"}),
            ("stream", {"stream": f"custom_state:{rng.randrange(STREAMS)}"}),
            ("actor", {"actor": f"user{rng.randrange(ACTORS)}"}),
            ("request id", {"request_id": f"{rng.randrange(count // 3):032x}"}),
            ("time range", {"after": hour.isoformat() + "Z",
                            "before": (hour + timedelta(hours=1)).isoformat() + "Z"}),
            ("actor+type+after", {"actor": f"user{rng.randrange(ACTORS)}",
                                  "type": "token.*", "after": moment()}),
        ]
    return mix


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_lists(session, url: str, count: int, pids: list[int]
                  ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latency (ms) of each request of the mix by kind, and the CPU milliseconds per
    request of `pids` (the gateway workers and the audit service) by kind."""
    timings: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    for kind, params in query_mix(count, random.Random(7)):
        used = sum(cpu_seconds(pid) for pid in pids)
        began = time.perf_counter()
        r = session.get(f"{url}/api/events/", params={**params, "limit": "50"}, timeout=60)
        elapsed = (time.perf_counter() - began) * 1000
        assert r.status_code == 200, r.text
        timings.setdefault(kind, []).append(elapsed)
        cpu[kind] = cpu.get(kind, 0.0) + (sum(cpu_seconds(pid) for pid in pids) - used) * 1000
    return timings, {kind: cpu[kind] / len(timings[kind]) for kind in cpu}


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total = max(total, int(line.split()[1]))
        except OSError:
            pass
    return total


def measure_export(session, url: str, params: dict, workers: list[int], audit: int) -> dict:
    """Events/s of one export, the largest gateway worker's RSS before and at most, and the
    CPU microseconds per event of the gateway workers and of the audit service."""
    before = rss_kb(workers)
    cpu_before = [sum(cpu_seconds(pid) for pid in workers), cpu_seconds(audit)]
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            peak[0] = max(peak[0], rss_kb(workers))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    lines = 0
    with session.get(f"{url}/api/events/export/", params=params, stream=True,
                     timeout=600) as r:
        assert r.status_code == 200, r.text
        for chunk in r.iter_content(1 << 16):
            lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - began
    done.set()
    sampler.join()
    events = lines - (1 if params["format"] == "csv" else 0)
    gateway_cpu = sum(cpu_seconds(pid) for pid in workers) - cpu_before[0]
    audit_cpu = cpu_seconds(audit) - cpu_before[1]
    return {"events": events, "seconds": elapsed, "rate": events / elapsed,
            "rss_before_mb": before / 1024, "rss_peak_mb": peak[0] / 1024,
            "gateway_us": gateway_cpu / events * 1e6, "audit_us": audit_cpu / events * 1e6}


def measure_feed(session, url: str, listeners: int, writes: int) -> dict:
    """Delivery latency (ms) of `writes` custom-state writes to each of `listeners` listeners
    (from the start of the write's request to the listener's receipt of its event)."""
    sent: dict[str, float] = {}
    received: list[float] = []
    missing = [0]
    lock = threading.Lock()
    opened = threading.Barrier(listeners + 1)
    stop = threading.Event()

    def listen():
        s = requests.Session()
        s.headers.update(session.headers)
        seen = set()
        with s.get(f"{url}/api/events/stream/", params={"type": "custom_state.created"},
                   stream=True, timeout=120) as r:
            assert r.status_code == 200, r.text
            opened.wait()
            for line in r.iter_lines():
                now = time.perf_counter()
                if line.startswith(b"data: "):
                    data = json.loads(line[6:])
                    name = (data.get("payload") or {}).get("name", "")
                    if name in sent:
                        seen.add(name)
                        with lock:
                            received.append((now - sent[name]) * 1000)
                if stop.is_set() or len(seen) == writes:
                    break
        with lock:
            missing[0] += writes - len(seen)

    threads = [threading.Thread(target=listen, daemon=True) for _ in range(listeners)]
    for t in threads:
        t.start()
    opened.wait(timeout=120)
    time.sleep(1.0)  # every poller is polling
    model = session.get(f"{url}/api/contenttype/model/stockitem/", timeout=30).json()["pk"]
    for n in range(writes):
        name = f"feed{n}"
        sent[name] = time.perf_counter()
        r = session.post(f"{url}/api/generic/status/custom/", timeout=30, json={
            "key": 600 + n, "name": name, "label": "F", "logical_key": 10, "model": model,
            "reference_status": "StockStatus"})
        assert r.status_code == 201, r.text
        time.sleep(0.5)
    deadline = time.monotonic() + 30
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    stop.set()
    return {"listeners": listeners, "writes": writes, "deliveries": len(received),
            "missing": missing[0], "p50": percentile(received, 0.5),
            "p99": percentile(received, 0.99), "max": max(received)}


def measure_webhook_writes(session, url: str, writes: int, subscriptions: int) -> dict:
    """Write latency (ms) of custom-state creations with `subscriptions` webhook
    subscriptions inactive, then active (loopback receivers in a process of their own,
    bench/webhooks.py), in two alternating rounds each."""
    model = session.get(f"{url}/api/contenttype/model/stockitem/", timeout=30).json()["pk"]
    receivers, subs, secrets = webhooks.Receivers(subscriptions), [], []
    try:
        for target in receivers.urls:
            r = session.post(f"{url}/api/events/subscriptions/", timeout=30, json={
                "target_url": target, "event_types": ["custom_state.*"], "active": False})
            assert r.status_code == 201, r.text
            secrets.append(r.json()["secret"])
            subs.append(r.json()["pk"])
        receivers.set_secrets(secrets)
        webhooks.write_states(session, url, model, 10)  # warm up
        inactive, active = [], []
        for _ in range(2):
            webhooks.set_active(session, url, subs, False)
            inactive += webhooks.write_states(session, url, model, writes // 2)
            webhooks.set_active(session, url, subs, True)
            time.sleep(0.5)
            active += webhooks.write_states(session, url, model, writes // 2)
        webhooks.set_active(session, url, subs, False)
        bad = receivers.stats()[2]
    finally:
        receivers.close()
    return {"inactive_p50": percentile(inactive, 0.5), "inactive_p99": percentile(inactive, 0.99),
            "active_p50": percentile(active, 0.5), "active_p99": percentile(active, 0.99),
            "writes": len(active), "subscriptions": subscriptions, "bad_signatures": bad}


def run(backend: str, args) -> tuple[list[str], dict]:
    name = f"bench-audit-{backend}"
    data = ROOT / "var" / name
    with ExitStack() as resources:
        env = {"GATEWAY_THREADS": "64", "EVENTS_STREAM_MAX_LISTENERS": "60",
               "EVENTS_STREAM_HEARTBEAT": "5", "RPC_TIMEOUT": "30",
               "WEBHOOK_ALLOW_PRIVATE": "1"}
        if backend == "postgresql":
            env.update(resources.enter_context(postgres_databases(args.postgres, ["audit"])))
        else:
            env["AUDIT_DATABASE_URL"] = f"sqlite:///{data / 'audit.sqlite3'}"
        seeded = {}

        def seed_trail(_stack):
            if backend == "sqlite" and args.sqlite_copy:  # a trail seeded by an earlier run
                began = time.perf_counter()
                shutil.copyfile(args.sqlite_copy, data / "audit.sqlite3")
                seeded.update(seconds=time.perf_counter() - began, copied=args.sqlite_copy)
            else:
                seeded.update(seconds=seed(env["AUDIT_DATABASE_URL"], args.events))
        stack, token, _ = resources.enter_context(bench_stack(
            name, args.port, env, wrk=False, seed=seed_trail))
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        url = stack.url
        workers = children(stack.procs["gateway"].pid)
        audit = stack.procs["audit-0"].pid
        measure_lists(session, url, args.events, [])  # warm caches and connections
        timings, list_cpu = measure_lists(session, url, args.events, [*workers, audit])
        everything = measure_export(session, url, {"format": "ndjson"}, workers, audit)
        one_service = measure_export(session, url, {"format": "csv", "service": "status"},
                                     workers, audit)
        feed = measure_feed(session, url, args.listeners, args.writes)
        hooks = measure_webhook_writes(session, url, args.hook_writes, 10)
        ingest = measure_ingest(session, url, stack.env["AMQP_URI"], args.ingest_rate,
                                args.ingest_seconds)
        if ingest.get("failed"):
            print(f"ingest failed: {ingest['failed']}", flush=True)
    every = [t for values in timings.values() for t in values]
    lines = [f"### {backend}", "",
             (f"Seeding {args.events:,} events straight into `audit_event`: "
              f"{seeded['seconds']:.0f} s." if "copied" not in seeded else
              f"The audit trail: a copy of `{seeded['copied']}`, seeded by an earlier run."), "",
             "| `GET /api/events/?limit=50&...` | requests | p50 ms | p99 ms | CPU ms a request "
             "(gateway + audit) |", "|---|---|---|---|---|"]
    for kind, values in timings.items():
        lines.append(f"| {kind} | {len(values)} | {percentile(values, 0.5):.1f} | "
                     f"{percentile(values, 0.99):.1f} | {list_cpu[kind]:.2f} |")
    lines.append(f"| **all** | {len(every)} | {percentile(every, 0.5):.1f} | "
                 f"{percentile(every, 0.99):.1f} |")
    lines += ["", "| export | events | s | events/s | gateway worker RSS before / peak MB | "
              "CPU µs an event: gateway / audit |", "|---|---|---|---|---|---|"]
    for label, result in (("ndjson, everything", everything), ("csv, service=status", one_service)):
        lines.append(f"| {label} | {result['events']:,} | {result['seconds']:.1f} | "
                     f"{result['rate']:,.0f} | {result['rss_before_mb']:.0f} / "
                     f"{result['rss_peak_mb']:.0f} | {result['gateway_us']:.1f} / "
                     f"{result['audit_us']:.1f} |")
    lines += ["", f"Live feed: {feed['listeners']} listeners (`type=custom_state.created`), "
              f"{feed['writes']} writes 0.5 s apart: {feed['deliveries']} deliveries, "
              f"{feed['missing']} missing; latency from the write's request p50 "
              f"{feed['p50']:.0f} ms, p99 {feed['p99']:.0f} ms, max {feed['max']:.0f} ms.", ""]
    lines += [f"Webhooks: {hooks['writes']} custom-state writes with {hooks['subscriptions']} "
              f"subscriptions inactive / active: p50 {hooks['inactive_p50']:.1f} / "
              f"{hooks['active_p50']:.1f} ms, p99 {hooks['inactive_p99']:.1f} / "
              f"{hooks['active_p99']:.1f} ms ({hooks['bad_signatures']} bad signatures).", "",
              (f"Ingest failed after {ingest['sent']:,} events published: {ingest['failed']}"
               if ingest.get("failed") else "") +
              f"Ingest: {ingest['events']:,} events published to `importer.events` in "
              f"{ingest['publish_seconds']:.1f} s ({ingest['rate']:,.0f}/s); the audit trail "
              f"was at most {ingest['max_behind']:,} events behind, and held the last one "
              f"{ingest['end_lag']:.2f} s after it was published (recorded "
              f"{ingest['ingest_rate']:,.0f}/s overall). Events behind, each second: "
              + ", ".join(str(b) for _, _, b in ingest["samples"]) + ".", ""]
    filtered = [t for kind, values in timings.items() if kind != "none" for t in values]
    summary = {
        "ingest": (f"failed after {ingest['sent']:,} events in {ingest['seconds']:.0f} s: "
                   f"{ingest['failed']}" if ingest.get("failed") else
                   f"{ingest['rate']:,.0f}/s published, lag at the end {ingest['end_lag']:.2f} s "
                   f"(at most {ingest['max_behind']:,} events behind)"),
        "list": f"p50 {percentile(filtered, 0.5):.0f} ms, p99 {percentile(filtered, 0.99):.0f} ms"
                f"; worst filter p99 {max(percentile(v, 0.99) for v in timings.values()):.0f} ms"
                f"; CPU a request {min(list_cpu.values()):.1f}-{max(list_cpu.values()):.1f} ms",
        "export": f"NDJSON {everything['rate']:,.0f}/s, CSV {one_service['rate']:,.0f}/s "
                  f"(CPU µs an event, gateway / audit: {everything['gateway_us']:.1f} / "
                  f"{everything['audit_us']:.1f} and {one_service['gateway_us']:.1f} / "
                  f"{one_service['audit_us']:.1f}); gateway RSS "
                  f"{everything['rss_before_mb']:.0f} -> "
                  f"{max(everything['rss_peak_mb'], one_service['rss_peak_mb']):.0f} MB",
        "feed": f"p99 {feed['p99']:.0f} ms, max {feed['max']:.0f} ms, {feed['missing']} missing",
        "webhooks": f"write p50 {hooks['inactive_p50']:.1f} -> {hooks['active_p50']:.1f} ms, "
                    f"p99 {hooks['inactive_p99']:.1f} -> {hooks['active_p99']:.1f} ms"}
    return lines, summary


TARGETS = [
    ("ingest", "ingest, {rate} events/s for {seconds} s", "lag < 2 s at the end"),
    ("list", "`GET /api/events/?limit=50`, filtered", "p99 < 50 ms"),
    ("export", "export (all as NDJSON; one service as CSV)", ">= 50,000 events/s, RSS flat"),
    ("feed", "100 live-feed listeners, delivery", "< 1 s"),
    ("webhooks", "write latency, 10 webhook subscriptions inactive -> active", "no change"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--port", type=int, default=18470)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--ingest-rate", type=int, default=5000)
    parser.add_argument("--ingest-seconds", type=int, default=60)
    parser.add_argument("--hook-writes", type=int, default=200)
    parser.add_argument("--sqlite-copy", default="",
                        help="an audit.sqlite3 seeded by an earlier run, copied instead of "
                             "seeding again")
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    if args.only:
        backends = [args.only]
    load = os.getloadavg()
    details, summaries = [], {}
    for backend in backends:
        lines, summaries[backend] = run(backend, args)
        details += lines
        write_report("audit-queries", [f"(partial: {', '.join(summaries)} done)", ""] + details)
    after = os.getloadavg()
    head = ["# Audit trail performance: ingest, lists, export, live feed, webhooks", "",
            f"{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores shared with other work "
            f"(load average {load[0]:.1f} at the start, {after[0]:.1f} at the end); a stack of "
            "2 gateway workers (64 threads, EVENTS_STREAM_MAX_LISTENERS 60) and one process "
            f"per service, {args.events:,} events seeded into the audit trail, client on the "
            "same machine, one request at a time for the lists.", "",
            "| figure | target | " + " | ".join(backends) + " |",
            "|---|---|" + "---|" * len(backends)]
    for key, label, target in TARGETS:
        label = label.format(rate=args.ingest_rate, seconds=args.ingest_seconds)
        head.append(f"| {label} | {target} | "
                    + " | ".join(summaries[b][key] for b in backends) + " |")
    write_report("audit-queries", head + [""] + details)


if __name__ == "__main__":
    main()
