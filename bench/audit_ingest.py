"""Audit ingest under a sustained burst (issue 14, Performance): events published straight
to a source service's event exchange (`importer.events`, as its relay publishes them: hash
chained, persistent, JSON) at a fixed rate for a number of seconds, while the audit trail's
progress is sampled through the API; the lag at the end of the burst is the time from the
last publication until the audit trail holds the last event. Used by bench/audit_queries.py
(one table of every audit figure); the message bodies are made before the burst so that the
publisher's own cost stays off the rate.
"""
import json
import threading
import time
from datetime import datetime, timedelta

import amqp
import requests

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


def measure_ingest(session, url: str, amqp_uri: str, rate: int, seconds: int) -> dict:
    """Publish `rate` events/s for `seconds`; the rate reached, the audit trail's lag
    (events and seconds behind the publisher) each second, and the lag at the end."""
    messages = bodies(rate * seconds)
    host, vhost = amqp_uri.split("@", 1)[1].split("/", 1)
    conn = amqp.Connection(host=host, userid="guest", password="guest", virtual_host=vhost)
    conn.connect()
    channel = conn.channel()
    channel.exchange_declare(f"{SERVICE}.events", "topic", durable=True, auto_delete=False)
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
                key, body = messages[sent]
                channel.basic_publish(amqp.Message(body, content_type="application/json",
                                                   content_encoding="utf-8", delivery_mode=2),
                                      exchange=f"{SERVICE}.events", routing_key=key)
                sent += 1
            time.sleep(0.002)
    except Exception as exc:  # e.g. the broker held the publisher back (flow control)
        done.set()
        return {"failed": f"{type(exc).__name__}: {exc}", "sent": sent,
                "seconds": time.monotonic() - began, "events": sent, "publish_seconds": 0.0,
                "rate": 0.0, "max_behind": 0, "end_lag": float("nan"), "ingest_rate": 0.0,
                "samples": samples}
    done.set()
    sampler.join()
    published = time.monotonic()
    last = FIRST_SEQ + len(messages) - 1
    while recorded_seq(session, url) < last:
        if time.monotonic() - published > 300:
            raise AssertionError("the audit service did not record the burst in 5 minutes")
        time.sleep(0.05)
    caught_up = time.monotonic()
    conn.close()
    return {"events": len(messages), "publish_seconds": published - began,
            "rate": len(messages) / (published - began),
            "max_behind": max((s[2] for s in samples), default=0),
            "end_lag": caught_up - published,
            "ingest_rate": len(messages) / (caught_up - began), "samples": samples}


def main():
    """Only the ingest figure, on a stack of its own whose audit trail holds `--events`
    seeded events (or a copy of an earlier run's SQLite trail): bench/results/audit-ingest-*.md."""
    import argparse
    import os
    import shutil
    from contextlib import ExitStack

    from audit_queries import seed
    from common import ROOT, bench_stack, postgres_databases, write_report
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-copy", default="")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--port", type=int, default=18472)
    args = parser.parse_args()
    name = f"bench-ingest-{args.backend}"
    load = os.getloadavg()
    with ExitStack() as resources:
        env = {"RPC_TIMEOUT": "30"}
        if args.backend == "postgresql":
            env.update(resources.enter_context(postgres_databases(args.postgres, ["audit"])))
        else:
            env["AUDIT_DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / name / 'audit.sqlite3'}"

        def seed_trail(_stack):
            if args.sqlite_copy and args.backend == "sqlite":
                shutil.copyfile(args.sqlite_copy, ROOT / "var" / name / "audit.sqlite3")
            elif args.events:
                seed(env["AUDIT_DATABASE_URL"], args.events)
        stack, token, _ = resources.enter_context(bench_stack(name, args.port, env, wrk=False,
                                                              seed=seed_trail))
        import requests
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        result = measure_ingest(session, stack.url, stack.env["AMQP_URI"], args.rate,
                                args.seconds)
    after = os.getloadavg()
    trail = (f"a copy of `{args.sqlite_copy}`" if args.sqlite_copy and args.backend == "sqlite"
             else f"{args.events:,} seeded events")
    lines = [f"# Audit ingest, {args.backend} ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"{os.cpu_count()} cores shared (load average {load[0]:.1f} at the start, "
             f"{after[0]:.1f} at the end); one process per service, the audit trail holding "
             f"{trail}; {args.rate} events/s for {args.seconds} s published to "
             f"`{SERVICE}.events`.", ""]
    if result.get("failed"):
        lines.append(f"Failed after {result['sent']:,} events in {result['seconds']:.0f} s: "
                     f"{result['failed']}.")
    else:
        lines.append(f"{result['events']:,} events published in "
                     f"{result['publish_seconds']:.1f} s ({result['rate']:,.0f}/s); at most "
                     f"{result['max_behind']:,} events behind; the last one recorded "
                     f"{result['end_lag']:.2f} s after it was published ({result['ingest_rate']:,.0f}"
                     "/s overall).")
    lines += ["", "Events behind, each second: "
              + ", ".join(str(b) for _, _, b in result["samples"]) + "."]
    write_report(f"audit-ingest-{args.backend}", lines)


if __name__ == "__main__":
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    main()
