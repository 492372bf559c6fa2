"""Audit ingest under a sustained burst (issue 14, Performance): events published straight
to a source service's event exchange (`importer.events`, as its relay publishes them: hash
chained, persistent, JSON) at a fixed rate for a number of seconds, while the audit trail's
progress is sampled through the API; the lag at the end of the burst is the time from the
last publication until the audit trail holds the last event. Used by bench/audit_queries.py
(one table of every audit figure); the message bodies are made before the burst so that the
publisher's own cost stays off the rate.
"""
import json
import socket
import threading
import time
from datetime import datetime, timedelta

import amqp
import requests

from svckit.batch_consumer import BatchEventConsumer
from svckit.hashchain import GENESIS, wire_hash

SERVICE = "importer"
# above the seeded events' and the service's own sequences, and above an earlier run's on
# the same trail (a copy of it); the chain positions are the same numbers
FIRST_SEQ = 3 * 10**9 + int(time.time()) % 10**6 * 10**6


def bodies(count: int) -> list[tuple[str, bytes]]:
    """(routing key, JSON body) of `count` chained events, as a relay publishes them."""
    made, prev = [], GENESIS
    start = datetime.utcnow()
    for n in range(count):
        seq = FIRST_SEQ + n
        event = {"id": f"{SERVICE}:{seq}", "service": SERVICE, "seq": seq,
                 "stream_type": "import_session", "stream_id": str(n % 500), "version": n + 1,
                 "type": "import_session.updated", "payload": {"status": n % 50, "row": n},
                 "actor": "bench", "request_id": f"ingest{n // 10}", "trace_context": "",
                 "created": (start + timedelta(microseconds=n)).isoformat() + "Z",
                 "schema_version": 1, "chain_seq": seq, "prev_hash": prev, "secrets": ""}
        event["hash"] = prev = wire_hash(event)
        made.append((event["type"], json.dumps(event).encode()))
    return made


def recorded_seq(session, url: str) -> int:
    """The sequence of the last burst event the audit trail holds (FIRST_SEQ - 1: none)."""
    r = session.get(f"{url}/api/events/", timeout=30, params={
        "service": SERVICE, "actor": "bench", "ordering": "-id", "limit": "1"})
    r.raise_for_status()
    results = r.json()["results"]
    return results[0]["seq"] if results else FIRST_SEQ - 1


def publisher(amqp_uri: str):
    """(connection, channel) to the vhost of `amqp_uri`, `importer.events` declared. py-amqp
    sets TCP_USER_TIMEOUT to 1 s on its sockets: a broker that stops reading a publisher
    for longer (its flow control, on a loaded machine) drops the connection ("basic_publish:
    timed out"); this publisher waits for it instead, as the burst is meant to."""
    host, vhost = amqp_uri.split("@", 1)[1].split("/", 1)
    conn = amqp.Connection(host=host, userid="guest", password="guest", virtual_host=vhost,
                           socket_settings={socket.TCP_USER_TIMEOUT: 120_000})
    conn.connect()
    channel = conn.channel()
    channel.exchange_declare(f"{SERVICE}.events", "topic", durable=True, auto_delete=False)
    return conn, channel


def publish(channel, key: str, body: bytes):
    channel.basic_publish(amqp.Message(body, content_type="application/json",
                                       content_encoding="utf-8", delivery_mode=2),
                          exchange=f"{SERVICE}.events", routing_key=key)


def measure_ingest(session, url: str, amqp_uri: str, rate: int, seconds: int,
                   cpu=None) -> dict:
    """Publish `rate` events/s for `seconds`; the rate reached, the audit trail's lag
    (events and seconds behind the publisher) each second, and the lag at the end.
    `cpu()`, when given, reads the audit service's CPU seconds: its CPU per event over the
    burst and its catch-up is then in the answer (`cpu_us`)."""
    messages = bodies(rate * seconds)
    conn, channel = publisher(amqp_uri)
    cpu_before = cpu() if cpu else 0.0
    samples: list[tuple[float, int, int]] = []
    began = time.monotonic()
    sent = 0
    done = threading.Event()

    def sample():  # beside the publisher, so that a slow answer does not hold it up
        while not done.wait(1.0):
            try:
                recorded = recorded_seq(session, url)
            except requests.RequestException:
                continue
            count = sent  # after the answer: never less than what the trail held
            samples.append((time.monotonic() - began, count, FIRST_SEQ + count - 1 - recorded))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        while sent < len(messages):
            due = min(len(messages), int((time.monotonic() - began) * rate) + 1)
            while sent < due:
                publish(channel, *messages[sent])
                sent += 1
            time.sleep(0.002)
    except Exception as exc:  # e.g. the broker held the publisher back (flow control)
        done.set()
        return {"failed": f"{type(exc).__name__}: {exc}", "sent": sent,
                "seconds": time.monotonic() - began, "events": sent, "publish_seconds": 0.0,
                "rate": 0.0, "max_behind": 0, "end_lag": float("nan"), "ingest_rate": 0.0,
                "samples": samples, "cpu_us": None}
    done.set()
    sampler.join()
    published = time.monotonic()
    last = FIRST_SEQ + len(messages) - 1
    while (recorded := recorded_seq(session, url)) < last:
        if time.monotonic() - published > 300:  # reported as such, with what it reached
            conn.close()
            return {"failed": f"not caught up 300 s after the burst: {last - recorded:,} "
                              "events still behind", "sent": sent,
                    "seconds": time.monotonic() - began, "samples": samples, "cpu_us": None}
        time.sleep(0.05)
    caught_up = time.monotonic()
    used = cpu() - cpu_before if cpu else None
    conn.close()
    return {"events": len(messages), "publish_seconds": published - began,
            "rate": len(messages) / (published - began),
            "max_behind": max((s[2] for s in samples), default=0),
            "end_lag": caught_up - published,
            "ingest_rate": len(messages) / (caught_up - began), "samples": samples,
            "cpu_us": used * 1e6 / len(messages) if cpu else None}


def queue_backlog(amqp_uri: str, count: int):
    """Before the audit service starts: its queue of `importer.events` declared as its
    consumer declares it, holding `count` chained events."""
    conn, channel = publisher(amqp_uri)
    queue = BatchEventConsumer.queue_name(SERVICE, "audit")
    channel.queue_declare(queue, durable=True, auto_delete=False)
    channel.queue_bind(queue, f"{SERVICE}.events", routing_key="#")
    for key, body in bodies(count):
        publish(channel, key, body)
    conn.close()


def measure_drain(session, url: str, count: int, cpu) -> dict:
    """The audit service's capacity: how fast it records a backlog of `count` events
    (queue_backlog) and its CPU per event, both over the stretch between the first sample
    that finds some recorded and the last that finds some left (its start and the API's
    first answers are outside it)."""
    samples = []  # (monotonic time, events recorded, CPU seconds)
    last = FIRST_SEQ + count - 1
    began = time.monotonic()
    while True:
        recorded = recorded_seq(session, url) - FIRST_SEQ + 1
        samples.append((time.monotonic(), recorded, cpu()))
        if recorded > count - 1:
            break
        if time.monotonic() - began > 600:
            raise AssertionError(f"the audit service did not record {last} in 10 minutes")
        time.sleep(0.5)
    inside = [s for s in samples if 0 < s[1] < count]
    if len(inside) < 2:
        return {"events": count, "rate": None, "cpu_us": None, "window": 0}
    (t0, n0, c0), (t1, n1, c1) = inside[0], inside[-1]
    return {"events": count, "rate": (n1 - n0) / (t1 - t0), "window": n1 - n0,
            "seconds": t1 - t0, "cpu_us": (c1 - c0) * 1e6 / (n1 - n0)}


def main():
    """Only the ingest figure, on a stack of its own whose audit trail holds `--events`
    seeded events (or a copy of an earlier run's SQLite trail): bench/results/audit-ingest-*.md.
    With `--backlog N`, the capacity instead: N events queued before the audit service
    starts, recorded as fast as it can (measure_drain)."""
    import argparse
    import os
    import shutil
    import subprocess
    from contextlib import ExitStack

    from audit_queries import seed
    from common import ROOT, bench_stack, cpu_seconds, postgres_databases, write_report
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-copy", default="")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--backlog", type=int, default=0)
    parser.add_argument("--port", type=int, default=18472)
    parser.add_argument("--profile", default="",
                        help="py-spy's raw stacks of the audit service during the run, here")
    args = parser.parse_args()
    name = f"bench-ingest-{args.backend}"
    load = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    with ExitStack() as resources:
        env = {"RPC_TIMEOUT": "30"}
        if args.backend == "postgresql":
            env.update(resources.enter_context(postgres_databases(args.postgres, ["audit"])))
        else:
            env["AUDIT_DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / name / 'audit.sqlite3'}"

        def seed_trail(stack):
            if args.sqlite_copy and args.backend == "sqlite":
                shutil.copyfile(args.sqlite_copy, ROOT / "var" / name / "audit.sqlite3")
            elif args.events:
                seed(env["AUDIT_DATABASE_URL"], args.events)
            if args.backlog:
                queue_backlog(stack.env["AMQP_URI"], args.backlog)
        stack, token, _ = resources.enter_context(bench_stack(name, args.port, env, wrk=False,
                                                              seed=seed_trail))
        import requests
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        audit = stack.procs["audit-0"].pid
        spy = None
        if args.profile:
            spy = subprocess.Popen([str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid",
                                    str(audit), "--format", "raw", "--rate", "200",
                                    "--nonblocking", "-o", args.profile],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.backlog:
            result = measure_drain(session, stack.url, args.backlog,
                                   lambda: cpu_seconds(audit))
        else:
            result = measure_ingest(session, stack.url, stack.env["AMQP_URI"], args.rate,
                                    args.seconds, lambda: cpu_seconds(audit))
        if spy is not None:
            spy.send_signal(2)
            spy.wait(60)
    after = os.getloadavg()
    trail = (f"a copy of `{args.sqlite_copy}`" if args.sqlite_copy and args.backend == "sqlite"
             else f"{args.events:,} seeded events")
    lines = [f"# Audit ingest, {args.backend} ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"Commit {commit}; {os.cpu_count()} cores shared (load average {load[0]:.1f} at "
             f"the start, {after[0]:.1f} at the end); one process per service, the audit trail "
             f"holding {trail}; "]
    if args.backlog:
        lines[-1] += (f"{args.backlog:,} events queued in `{SERVICE}.events`' audit queue "
                      "before the audit service started (its capacity).")
        lines.append("")
        if result["rate"] is None:
            lines.append("Recorded too fast to sample: queue more.")
        else:
            lines.append(f"Recorded {result['rate']:,.0f} events/s over {result['window']:,} "
                         f"events ({result['seconds']:.1f} s); the audit service's CPU: "
                         f"{result['cpu_us']:.1f} µs an event.")
    else:
        lines[-1] += f"{args.rate} events/s for {args.seconds} s published to `{SERVICE}.events`."
        lines.append("")
        if result.get("failed"):
            lines.append(f"Failed after {result['sent']:,} events in {result['seconds']:.0f} s: "
                         f"{result['failed']}.")
        else:
            lines.append(f"{result['events']:,} events published in "
                         f"{result['publish_seconds']:.1f} s ({result['rate']:,.0f}/s); at most "
                         f"{result['max_behind']:,} events behind; the last one recorded "
                         f"{result['end_lag']:.2f} s after it was published "
                         f"({result['ingest_rate']:,.0f}/s overall); the audit service's CPU: "
                         f"{result['cpu_us']:.1f} µs an event.")
        lines += ["", "Events behind, each second: "
                  + ", ".join(str(b) for _, _, b in result["samples"]) + "."]
    write_report(f"audit-ingest-{args.backend}", lines)


if __name__ == "__main__":
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    main()
