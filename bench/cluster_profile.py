"""Where a write's work goes on `make cluster`'s topology: PostgreSQL statements per request
(per database, from the server's statement log) and CPU ms per request of every process.

Starts the topology (svckit.cluster, `--replicas` of every service, free ports, its
directory `var/prof-cluster-<id>`, removed afterwards unless `--keep`), then for each
operation:

1. `--statements` requests one after another with the statement log on
   (`log_statement = all`, reloaded, no restart): the statements each database ran per
   request, by kind (BEGIN, SELECT, INSERT, ..., the advisory lock), counted once the
   events' consumers (audit, the gateways' caches) are done;
2. with the log off again, wrk at c=16 for `--seconds`: requests/s and the CPU ms per
   request of every process (utime + stime from /proc), and with `--py-spy` a py-spy
   profile (top functions) of the busiest Python process.

    .venv/bin/python bench/cluster_profile.py [--ops serial,projcode] [--replicas 1]
        [--statements 200] [--seconds 10] [--py-spy]

Prints a Markdown report and writes it to bench/results/cluster-profile-<date>.md.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import psycopg2
import requests

from cluster import ENV, PROJECT_BODY, UNIQUE_LUA, tree
from common import ADMIN, ROOT, cpu_seconds, write_report
from importer import run_size
from svckit.cluster import Cluster, Ports
from system import SERIAL_BODY, SERIAL_LUA, wrk

IDLE_SECONDS = 5.0
SETTLE_SECONDS = 3.0
OPS = {
    "serial": ("/api/generate/serial-number/", lambda n, run: SERIAL_BODY),
    "projcode": ("/api/project-code/",
                 lambda n, run: f'{{"code": "P{run}-{n}", "description": "profile"}}'),
}


def kind(statement: str) -> str:
    s = statement.strip().upper()
    if "PG_ADVISORY" in s:
        return "advisory lock"
    if s.startswith("SELECT 1") or s == "SELECT 1":
        return "SELECT 1 (pool ping or readiness probe)"
    word = s.split(None, 1)[0] if s else "?"
    if word == "SELECT" and "FOR UPDATE" in s:
        return "SELECT ... FOR UPDATE"
    return word


LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\S*) LOG:  statement: (.*)$")


def statements(log: Path, start: int) -> dict[str, Counter]:
    """Statements logged after byte `start`, by database and kind."""
    out: dict[str, Counter] = defaultdict(Counter)
    with open(log, "rb") as f:
        f.seek(start)
        for raw in f:
            m = LINE.match(raw.decode(errors="replace").rstrip("\n"))
            if m:
                out[m.group(2) or "?"][kind(m.group(3))] += 1
    return out


def set_logging(cluster: Cluster, on: bool):
    conn = psycopg2.connect(host="127.0.0.1", port=cluster.postgres.port, user="postgres",
                            dbname="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] %d '")
    cur.execute(f"ALTER SYSTEM SET log_statement = '{'all' if on else 'none'}'")
    cur.execute("SELECT pg_reload_conf()")
    conn.close()
    time.sleep(1.0)


def processes(cluster: Cluster) -> dict[str, list[int]]:
    procs = {name: tree(p.pid) for name, p in cluster.stack.procs.items()}
    for node in cluster.rabbit.nodes:
        if node.proc:
            procs[f"rabbitmq {node.name.split('@')[0]}"] = tree(node.proc.pid)
    if cluster.postgres.proc:
        procs["postgresql"] = tree(cluster.postgres.proc.pid)
    if cluster.lb.proc:
        procs["haproxy"] = tree(cluster.lb.proc.pid)
    return procs


def snapshot(procs: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(p) for p in pids) for name, pids in procs.items()}


def idle(url: str, auth: dict, wait: float = 30.0):
    """Until the audit log's count stops moving (events consumed)."""
    last, deadline = None, time.monotonic() + wait
    while time.monotonic() < deadline:
        r = requests.get(f"{url}/api/events/", params={"limit": 1}, headers={
            **auth, "Cache-Control": "no-cache"}, timeout=60)
        now = r.json().get("count") if r.status_code == 200 else None  # a busy machine: 503
        if now is not None and now == last:
            return
        last = now
        time.sleep(1.5)


def count_statements(cluster: Cluster, url: str, auth: dict, op: str, n: int, run: str):
    path, body = OPS[op]
    log = cluster.postgres.directory / "server.log"
    idle(url, auth)
    set_logging(cluster, True)
    start = log.stat().st_size
    with requests.Session() as http:
        for i in range(n):
            r = http.post(url + path, data=body(i, run), timeout=60,
                          headers={**auth, "Content-Type": "application/json"})
            assert r.status_code == 201, (r.status_code, r.text)
    time.sleep(2.0)  # the relay and the consumers
    set_logging(cluster, False)
    return statements(log, start)


def py_spy(pid: int, seconds: int, out: Path) -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    proc = subprocess.run([spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200",
                           "-f", "raw", "-o", str(out), "--nonblocking"],
                          capture_output=True, text=True)
    if proc.returncode or not out.exists():
        return f"py-spy failed: {proc.stderr.strip()[-300:]}"
    return top_frames(out)


def top_frames(raw: Path, top: int = 25) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own, incl, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        frames = stack.split(";")
        names = [re.sub(r" \((.*?)\)$", r" (\1)", f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            incl[name] += count
    lines = [f"{total} samples; self:"]
    lines += [f"  {100 * c / total:5.1f}% {name}" for name, c in own.most_common(top)]
    lines += ["inclusive (first 40):"]
    lines += [f"  {100 * c / total:5.1f}% {name}" for name, c in incl.most_common(40)]
    return "\n".join(lines)


def import_statements(cluster: Cluster, url: str, auth: dict, n: int, tmp: Path,
                      run: str) -> list[str]:
    """An import of `n` project codes (bench/importer.py's steps) with the statement log on:
    statements per row, per database."""
    log = cluster.postgres.directory / "server.log"
    idle(url, auth)
    set_logging(cluster, True)
    start = log.stat().st_size
    t0 = time.monotonic()
    run_size(url, auth, {}, tmp, f"S{run}-", n, True, 2)
    elapsed = time.monotonic() - t0
    idle(url, auth)
    set_logging(cluster, False)
    lines = [f"## import of {n:,} project codes", "",
             f"{elapsed:.1f} s with the statement log on ({n / elapsed:.0f} rows/s); "
             "PostgreSQL statements per row:", "",
             "| database | statement | per row |", "| --- | --- | --- |"]
    for db, kinds in sorted(statements(log, start).items()):
        lines.append(f"| {db} | **all** | **{sum(kinds.values()) / n:.3f}** |")
        for k, c in kinds.most_common():
            lines.append(f"| {db} | {k} | {c / n:.3f} |")
    return lines + [""]


def spy_into(holder: dict, pid: int, seconds: int, out: Path):
    holder["out"] = py_spy(pid, seconds, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", default="serial,projcode")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--statements", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--py-spy", action="store_true")
    parser.add_argument("--import-rows", type=int, default=0,
                        help="then count the statements per row of an import this size")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    directory = ROOT / "var" / f"prof-cluster-{run}"
    cluster = Cluster(directory, Ports.free(), node_prefix=f"p{run}n", replicas=args.replicas,
                      env={**ENV, "INVENTREE_ADMIN_USER": ADMIN[0],
                           "INVENTREE_ADMIN_PASSWORD": ADMIN[1]})
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    lines = [f"# Cluster profile, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"Code: {commit}; {args.replicas} replica(s) of every service; load average before: "
             f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", ""]
    tmp = Path(tempfile.mkdtemp())
    try:
        cluster.start()
        cluster.stack.run_tool("-m", "services.users.cli", "ensure-admin")
        url = cluster.url
        token = requests.get(f"{url}/api/user/token/", auth=ADMIN, timeout=30).json()["token"]
        auth = {"Authorization": f"Token {token}"}
        for op in args.ops.split(","):
            path, _ = OPS[op]
            found = count_statements(cluster, url, auth, op, args.statements, run)
            lines += [f"## {op}: POST {path}", "",
                      f"PostgreSQL statements per request ({args.statements} requests one "
                      "after another, statement log on):", "",
                      "| database | statement | per request |", "| --- | --- | --- |"]
            for db, kinds in sorted(found.items()):
                total = sum(kinds.values())
                lines.append(f"| {db} | **all** | **{total / args.statements:.2f}** |")
                for k, c in kinds.most_common():
                    lines.append(f"| {db} | {k} | {c / args.statements:.2f} |")
            lines.append("")
            script = tmp / f"{op}.lua"
            script.write_text(SERIAL_LUA if op == "serial" else UNIQUE_LUA % {
                "prefix": f"W{run}{op}-", "body": PROJECT_BODY})
            hdr = [f"Authorization: Token {token}"]
            wrk(url + path, hdr, 4, 2, str(script))
            idle(url, auth)
            procs = processes(cluster)
            i0, ti = snapshot(procs), time.monotonic()
            time.sleep(IDLE_SECONDS)
            i1 = snapshot(procs)
            idle_rate = {k: (i1[k] - i0[k]) / (time.monotonic() - ti) for k in procs}
            load = os.getloadavg()
            spy, holder = None, {}
            a, t0 = snapshot(procs), time.monotonic()
            if args.py_spy:
                spy = threading.Thread(target=spy_into, args=(
                    holder, cluster.stack.procs["system-0"].pid, args.seconds - 1,
                    tmp / f"{op}.raw"))
                spy.start()
            r = wrk(url + path, hdr, 16, args.seconds, str(script))
            if spy:
                spy.join()
            time.sleep(SETTLE_SECONDS)  # the relay and the consumers finish
            b, elapsed = snapshot(procs), time.monotonic() - t0
            n = r["requests"]
            lines += [f"wrk c=16 {args.seconds} s: {r['rps']:.0f} req/s, p99 {r['p99']:.0f} ms, "
                      f"{r['errors']} non-2xx; load average {load[0]:.2f}; CPU ms per request "
                      f"over the row and {SETTLE_SECONDS:.0f} s after it, each process's idle "
                      f"rate (measured for {IDLE_SECONDS:.0f} s before) taken off:", "",
                      "| process | CPU ms / request | idle, cores |", "| --- | --- | --- |"]
            per = {k: max(0.0, b[k] - a[k] - idle_rate[k] * elapsed) for k in procs}
            for name, sec in sorted(per.items(), key=lambda kv: -kv[1]):
                lines.append(f"| {name} | {1000 * sec / n:.2f} | {idle_rate[name]:.3f} |")
            lines.append(f"| **all** | **{1000 * sum(per.values()) / n:.2f}** | |")
            lines.append("")
            if args.py_spy:
                lines += ["py-spy of system-0 during the row:", "", "```",
                          holder.get("out", "none"), "```", ""]
            print("\n".join(lines[-30:]), flush=True)
        if args.import_rows:
            lines += import_statements(cluster, url, auth, args.import_rows, tmp, run)
            print("\n".join(lines[-30:]), flush=True)
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        write_report("cluster-profile", lines)  # what was measured, if it stopped midway


if __name__ == "__main__":
    main()
