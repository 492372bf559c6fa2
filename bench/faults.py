"""The faults of tests/cluster/test_faults.py with the issue's full import (20,000 rows),
on `make cluster`'s topology started by its harness on ports of its own, with figures:

    .venv/bin/python bench/faults.py [--rows 20000] [--threads 4] [--only K9S,PG,...]

Faults: K9S (kill -9 of one replica of each service in turn), K9G (kill -9 of a gateway),
NODE (the busiest RabbitMQ node stopped 10 s, then started), PG (PostgreSQL down 10 s),
ROLL (rolling SIGTERM restart of every process), MQ (every RabbitMQ node down 10 s). For
each: writes acknowledged by kind, failed requests by status and detail, the checks'
problems (tests/cluster/faultchecks.py), the import's time and rate, and for PG and MQ the
seconds from the component answering again to each kind's first success. Written to
`bench/results/faults-<date>.md`.
"""
import argparse
import sys
import uuid
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svckit.cluster import Cluster, Ports, faults  # noqa: E402
from svckit.cluster.load import KINDS, under_load  # noqa: E402
from svckit.layout import ROOT  # noqa: E402
from tests.cluster.faultchecks import check, failed_requests, recovery_seconds  # noqa: E402

ADMIN = ("admin", "admin-pass-123")
REPLICAS = 2
ORDER = ("K9S", "K9G", "NODE", "PG", "ROLL", "MQ")


def actions(cluster: Cluster, supervisor: faults.Supervisor) -> dict:
    return {"K9S": lambda: faults.kill_each_service_replica(cluster, supervisor, REPLICAS),
            "K9G": lambda: faults.kill_gateway(cluster, supervisor),
            "NODE": lambda: faults.stop_busiest_node(cluster),
            "PG": lambda: faults.postgres_down(cluster),
            "ROLL": lambda: faults.rolling_restart(cluster, supervisor, REPLICAS),
            "MQ": lambda: faults.broker_down(cluster)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", default=",".join(ORDER))
    args = parser.parse_args()
    chosen = [name for name in ORDER if name in args.only.split(",")]
    directory = ROOT / "var" / "test" / f"faults-bench-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(directory, Ports.free(), node_prefix=f"b{uuid.uuid4().hex[:6]}n",
                      replicas=REPLICAS,
                      env={"INVENTREE_ADMIN_USER": ADMIN[0],
                           "INVENTREE_ADMIN_PASSWORD": ADMIN[1], "PASSWORD_ITERATIONS": "1000",
                           "LOG_LEVEL": "WARNING", "CURRENCY_UPDATE_INTERVAL": "0",
                           "NEWS_FEED_INTERVAL": "0"})
    supervisor = faults.Supervisor(cluster)
    lines = [f"# Faults under load, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"`make cluster`'s topology (2 replicas of every service, 2 gateways, 3 RabbitMQ "
             f"nodes, PostgreSQL); {args.threads} client threads writing every kind in turn "
             f"({', '.join(KINDS)}) with Idempotency-Keys, and an import of {args.rows:,} "
             "project codes, through HAProxy. Load on the machine at the start: "
             f"{Path('/proc/loadavg').read_text().split()[0]}.", "",
             "| fault | acknowledged writes | failed requests | problems | import | "
             "recovery (s) | fault figures |", "| --- | --- | --- | --- | --- | --- | --- |"]
    try:
        cluster.start()
        cluster.stack.run_tool("-m", "services.users.cli", "ensure-admin")
        supervisor.start()
        token = requests.get(f"{cluster.url}/api/user/token/", auth=ADMIN,
                             timeout=30).json()["token"]
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        state_model = api.get(f"{cluster.url}/api/contenttype/model/stockitem/",
                              timeout=30).json()["pk"]
        todo = actions(cluster, supervisor)
        for name in chosen:
            faults.wait_healthy(cluster, REPLICAS)
            prefix = f"B{name}{uuid.uuid4().hex[:4]}"
            run = under_load(cluster.url, token, state_model, prefix, todo[name], args.rows,
                             threads=args.threads)
            problems, figures = check(api, cluster.url, run.recorder, run.since, run.imports,
                                      prefix, model_id=4242)
            problems += run.info.get("problems", [])
            failed = failed_requests(run.recorder)
            imp = run.imports[0]
            rate = f"{imp.rows / imp.seconds:.0f} rows/s" if imp.seconds else "-"
            recovery = (recovery_seconds(run.recorder, run.info["back"], KINDS)
                        if name in ("PG", "MQ") else "-")
            info = {k: v for k, v in run.info.items() if k not in ("back", "problems")}
            row = (f"| {name} | {figures['acknowledged']} {figures['by_kind']} | "
                   f"{sum(failed.values())} {failed or ''} | {problems or 'none'} | "
                   f"{imp.seconds or 0:.0f} s, {rate} | {recovery} | {info} |")
            lines.append(row)
            print(row, flush=True)
    finally:
        try:
            supervisor.stop()
        finally:
            cluster.stop()
    out = ROOT / "bench" / "results" / f"faults-{datetime.now():%Y%m%d-%H%M}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
