"""PostgreSQL stopped for 10 s under `make cluster`'s topology (its harness, on ports of its
own): what clients see meanwhile and how soon after the server is back writes succeed.

    .venv/bin/python bench/pg_outage.py [--down 10] [--threads 4]

Client threads create project codes and list them through HAProxy without pause; the
server is stopped (fast shutdown), kept down, and started. The table (written to
`bench/results/pg-outage-<date>.md`) gives, per phase, the answers by status and detail and
the slowest answer, and the time from the server accepting connections again to the first
successful write.
"""
import argparse
import collections
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svckit.cluster import Cluster, Ports  # noqa: E402
from svckit.layout import ROOT  # noqa: E402

ADMIN = ("admin", "admin-pass-123")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--down", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    directory = ROOT / "var" / "test" / f"pg-outage-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(directory, Ports.free(), node_prefix=f"o{uuid.uuid4().hex[:6]}n",
                      env={"INVENTREE_ADMIN_USER": ADMIN[0],
                           "INVENTREE_ADMIN_PASSWORD": ADMIN[1], "PASSWORD_ITERATIONS": "1000",
                           "LOG_LEVEL": "WARNING", "CURRENCY_UPDATE_INTERVAL": "0",
                           "NEWS_FEED_INTERVAL": "0"})
    try:
        cluster.start()
        cluster.stack.run_tool("-m", "services.users.cli", "ensure-admin")
        token = requests.get(f"{cluster.url}/api/user/token/", auth=ADMIN,
                             timeout=30).json()["token"]
        report = run(cluster, token, args.down, args.threads)
    finally:
        cluster.stop()
    out = ROOT / "bench" / "results" / f"pg-outage-{datetime.now():%Y%m%d-%H%M}.md"
    out.write_text(report)
    print(report)
    print(f"written to {out}")


def run(cluster, token: str, down: float, threads: int) -> str:
    phase = {"name": "before"}
    answers: list = []  # (phase, time, kind, status, detail, seconds)
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        i = 0
        while not stop.is_set():
            i += 1
            for kind in ("write", "read"):
                started = time.monotonic()
                try:
                    if kind == "write":
                        r = session.post(f"{cluster.url}/api/project-code/", timeout=60,
                                         json={"code": f"PG-{n}-{i}"})
                    else:
                        r = session.get(f"{cluster.url}/api/project-code/?limit=5", timeout=60)
                    status = r.status_code
                    detail = r.json().get("detail", "") if status >= 400 else ""
                except Exception as exc:  # a hang or a broken connection: reported as such
                    status, detail = 0, type(exc).__name__
                with lock:
                    answers.append((phase["name"], time.monotonic(), kind, status, detail,
                                    time.monotonic() - started))

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    time.sleep(5)
    phase["name"] = "down"
    stopped = time.monotonic()
    cluster.postgres.stop()
    time.sleep(max(down - (time.monotonic() - stopped), 0))
    phase["name"] = "starting"
    start_called = time.monotonic()
    cluster.postgres.start()
    back = time.monotonic()  # accepting connections again (start waits for that)
    phase["name"] = "after"
    time.sleep(10)
    stop.set()
    for w in workers:
        w.join(timeout=90)

    first_ok = min((t for p, t, kind, status, _, _ in answers
                    if t > back and kind == "write" and 200 <= status < 300), default=None)
    lines = [f"# PostgreSQL stopped for {down:g} s under the cluster topology",
             "", f"{datetime.now():%Y-%m-%d %H:%M}, {threads} client threads through "
             "HAProxy, each creating a project code and listing project codes in turn; "
             "2 replicas of every service, 2 gateways, 3 RabbitMQ nodes (quorum queues).", "",
             "| phase | kind | status | detail | answers | slowest (s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    groups: dict = collections.defaultdict(list)
    for p, _, kind, status, detail, seconds in answers:
        groups[(p, kind, status, detail)].append(seconds)
    order = {"before": 0, "down": 1, "starting": 2, "after": 3}
    for (p, kind, status, detail), times in sorted(groups.items(),
                                                   key=lambda g: (order[g[0][0]], g[0][1:])):
        lines.append(f"| {p} | {kind} | {status} | {detail} | {len(times)} | "
                     f"{max(times):.2f} |")
    lines.append("")
    if first_ok is None:
        lines.append("No write succeeded after the server was back.")
    else:
        lines.append(f"First successful write {first_ok - back:.2f} s after PostgreSQL "
                     "accepted connections again (`starting` is the server's own start-up, "
                     f"{back - start_called:.1f} s after the {down:g} s down).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
