"""Benchmark of the production path: `make cluster` next to the single-process SQLite stack.

In one run, on the same machine, one after the other:

1. the SQLite stack (bench_stack: 2 gateway workers, one process per service, SQLite, the
   machine's RabbitMQ in a vhost of its own) on a free port;
2. the `make cluster` topology (svckit.cluster: 3 RabbitMQ nodes, PostgreSQL with a database
   per service, 2 replicas of every service, 2 gateways behind HAProxy) on free ports, its
   directory under var/bench-cluster-<id>;
3. for every other count in `--replicas`, the same topology with that many replicas of every
   service (serial numbers and project codes only).

On each, `--attachments` link attachments are seeded through the attachments service's own
EventStore (attachments.seed_rows), then wrk at c=16 (2 threads, `--seconds` per row after a
2 s warm-up at c=4) measures requests/s and p99 of:

  GET /api/attachment/<pk>/      Cache-Control: no-cache, 200 pks   (target >= 500 req/s)
  GET /api/attachment/?limit=50  Cache-Control: no-cache
  POST /api/generate/serial-number/                                 (target >= 500 req/s)
  POST /api/project-code/        a unique code per request (Lua)
  POST /api/attachment/          JSON with a `link`
  POST /api/attachment/          1 MB multipart body built once in Lua

and then a `--rows` import of project codes (importer.run_size: session, accept_fields,
accept_rows; rows/s, target >= 2,000). Every write path on the cluster should reach at least
70% of its SQLite figure. CPU seconds of every process group (each service's replicas, the
gateways, RabbitMQ, PostgreSQL, HAProxy, wrk, the machine) are read from /proc around each row.
Correctness is checked while measuring: no serial handed out twice and every one in the audit
log, and for every write the rows created match the 201s wrk saw. Writes
bench/results/cluster-<date>.md.

    .venv/bin/python bench/cluster.py [--seconds 10] [--rows 100000] [--replicas 1,2]
    .venv/bin/python bench/cluster.py --seconds 3 --rows 5000 --attachments 2000  # short run

A cluster's directory is removed after its rows unless a check failed, it did not start, or
`--keep` is given.
"""
import argparse
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import requests

from attachments import BOUNDARY, MB, ROTATE_LUA, UPLOAD_IDS, UPLOAD_LUA, seed_rows
from common import ADMIN, ROOT, bench_stack, cpu_seconds, write_report
from importer import code_version, run_size
from svckit.cluster import Cluster, Ports
from system import EVENT_TYPE, SERIAL_LUA, all_event_serials, busy_total, children_cpu, wrk

CONCURRENCY = 16
MAIN_REPLICAS = 2  # `make cluster`'s
TARGET_RATIO = 0.70
TARGETS = {"serial": 500, "detail": 500, "import": 2000}
ENV = {"IMPORT_RPC_TIMEOUT": "600", "LOG_LEVEL": "WARNING", "CURRENCY_UPDATE_INTERVAL": "0",
       "NEWS_FEED_INTERVAL": "0"}

# a unique value per request: the row's prefix, a random token per wrk run (the warm-up and
# the measured run share the script), the wrk thread, a counter; %(body)s is a Lua expression
# of `unique` and `n`
UNIQUE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = {}
local function token()
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(4)
  f:close()
  return (bytes:gsub(".", function(c) return string.format("%%02x", c:byte()) end))
end
local run = token()
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", run .. #threads)
end
function init(args) created = 0; n = 0 end
function request()
  n = n + 1
  local unique = "%(prefix)s" .. tid .. "-" .. n
  return wrk.format(nil, nil, nil, %(body)s)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do io.write("CREATED " .. t:get("created") .. "\\n") end
end
"""
PROJECT_BODY = """'{"code": "' .. unique .. '", "description": "bench cluster"}'"""
LINK_BODY = ("""'{"model_type": "part", "model_id": ' .. (n % 50 + 1) .. """
             """', "link": "https://example.com/' .. unique .. '", "comment": "bench link"}'""")


# --- the processes of a target, grouped, for CPU readings ---

def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (children of every thread, recursively)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def stack_groups(stack) -> dict[str, list[int]]:
    """Each service's processes (all replicas), the gateways, by the stack's process names."""
    groups: dict[str, list[int]] = {}
    for name, proc in stack.procs.items():
        label = "gateway" if name.startswith("gateway") else name.rsplit("-", 1)[0]
        groups.setdefault(label, []).extend(tree(proc.pid))
    return groups


def sqlite_groups(stack) -> dict[str, list[int]]:
    """The stack, and the machine's RabbitMQ (Debian's service, run by the `rabbitmq` user;
    other brokers on the machine, such as other clusters' nodes, are not ours)."""
    beam = subprocess.run(["pgrep", "-u", "rabbitmq", "beam.smp"], capture_output=True,
                          text=True).stdout
    return {**stack_groups(stack), "rabbitmq": [int(p) for p in beam.split()]}


def cluster_groups(cluster: Cluster) -> dict[str, list[int]]:
    groups = stack_groups(cluster.stack)
    groups["rabbitmq (3 nodes)"] = [p for node in cluster.rabbit.nodes if node.proc
                                    for p in tree(node.proc.pid)]
    if cluster.postgres.proc:
        groups["postgresql"] = tree(cluster.postgres.proc.pid)
    if cluster.lb.proc:
        groups["haproxy"] = tree(cluster.lb.proc.pid)
    return groups


def per_pid(groups: dict[str, list[int]]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids}


def cpu_between(groups: dict[str, list[int]], a: dict[int, float], b: dict[int, float],
                elapsed: float) -> dict[str, float]:
    """Cores busy per group between two per-pid readings (a process gone by the second
    reading counts nothing, rather than a negative figure)."""
    return {label: sum(max(0.0, b.get(p, 0.0) - a.get(p, 0.0)) for p in pids) / elapsed
            for label, pids in groups.items()}


# --- a target: somewhere to send requests, with its processes ---

@dataclass
class Target:
    label: str  # "SQLite", "cluster ×2", ...
    base: str
    token: str
    groups: Callable[[], dict[str, list[int]]]
    attachments_db: str
    processes: Callable[[], dict[str, list[int]]]  # each process (`system-0`, ...) -> pids
    replicas: int = 1
    results: dict[str, dict] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    started_in: float = 0.0
    spy: str = ""  # `--py-spy`: the group whose busiest process py-spy records in each row

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Token {self.token}"}

    def check(self, name: str, ok: bool, detail: str):
        self.checks.append((name, ok, detail))
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


def settled(read: Callable[[], int], wait: float = 60.0) -> int:
    """`read()` once it stays unchanged for 1.5 s (requests in flight answered, events
    consumed by the audit service)."""
    last, deadline = read(), time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = read()
        if now == last:
            break
        last = now
    return last


def measure(target: Target, path: str, headers: list[str], seconds: int, script: str | None,
            rows: Callable[[], int] | None = None) -> dict:
    """wrk at c=16 for `seconds` after a 2 s warm-up at c=4, with the cores each process group
    (and wrk, and the whole machine) used meanwhile. `rows`: a count of what the row creates,
    read (settled) after the warm-up and after the row: `gained`."""
    wrk(target.base + path, headers, 4, 2, script)
    before = settled(rows) if rows else 0
    groups = target.groups()
    spying = spy_on(target, groups, seconds)
    cpu0, busy0, wrk0, t0 = per_pid(groups), busy_total(), children_cpu(), time.monotonic()
    r = wrk(target.base + path, headers, CONCURRENCY, seconds, script)
    elapsed = time.monotonic() - t0
    if spying:
        spying[0].join()
        r["py_spy"] = spying[1].get("out", "")
    cpu1 = per_pid(groups)
    r["elapsed"] = elapsed
    r["cpu"] = cpu_between(groups, cpu0, cpu1, elapsed)
    r["cpu"]["wrk"] = (children_cpu() - wrk0) / elapsed
    r["cpu"]["machine (all)"] = (busy_total() - busy0) / elapsed
    r["cpu"]["other work"] = max(0.0, r["cpu"]["machine (all)"] - sum(
        v for k, v in r["cpu"].items() if k != "machine (all)"))
    r["replica_cpu"] = replica_cpu(target, cpu0, cpu1, elapsed)
    if rows:
        r["gained"] = settled(rows) - before
    return r


def spy_on(target: Target, groups: dict[str, list[int]], seconds: int):
    """With `--py-spy`: a started thread recording the first process of the target's `spy`
    group for the row (bench/cluster_profile.py's py_spy), and the dict its top frames go
    into; None without."""
    pids = groups.get(target.spy) if target.spy else None
    if not pids:
        return None
    from cluster_profile import spy_into
    holder: dict = {}
    out = Path(tempfile.mkdtemp(prefix="bench-spy-")) / "profile.raw"
    thread = threading.Thread(target=spy_into, args=(holder, pids[0], max(1, seconds - 1), out))
    thread.start()
    return thread, holder


def replica_cpu(target: Target, a: dict[int, float], b: dict[int, float],
                elapsed: float) -> dict[str, float]:
    """Cores busy per system-service process (both rows the replica comparison measures are
    the system service's)."""
    return {name: sum(max(0.0, b.get(p, 0.0) - a.get(p, 0.0)) for p in pids) / elapsed
            for name, pids in target.processes().items() if name.startswith("system")}


def count(target: Target, path: str, params: dict) -> int:
    return requests.get(target.base + path, timeout=60, params={**params, "limit": 1},
                        headers={**target.auth, "Cache-Control": "no-cache"}).json()["count"]


def check_created(target: Target, title: str, r: dict):
    """Every answer a 201, and the rows the row created match the 201s wrk counted (up to 16
    more: requests in flight when wrk stopped, answered by the server but not counted)."""
    answered = r["requests"] - r["errors"]
    extra = r["gained"] - r["created"]
    target.check(f"{target.label}, {title}: every answer a 201",
                 r["errors"] == 0 and r["created"] == answered,
                 f"wrk: {r['requests']} requests, {r['errors']} non-2xx/3xx "
                 f"{r['socket']}; Lua saw {r['created']} 201s")
    target.check(f"{target.label}, {title}: created = 201s", 0 <= extra <= CONCURRENCY,
                 f"+{r['gained']} for {r['created']} 201s"
                 + (f" (+{extra}: in flight when wrk stopped)" if extra > 0 else ""))


# --- the operations ---

class Operations:
    """The measured rows, each run on a target; files (Lua scripts, the 1 MB blob) in `tmp`."""

    def __init__(self, tmp: Path, seconds: int, rows: int, run: str):
        self.tmp, self.seconds, self.rows, self.run = tmp, seconds, rows, run
        self.scripts = 0

    def lua(self, text: str) -> str:
        self.scripts += 1
        path = self.tmp / f"script-{self.scripts}.lua"
        path.write_text(text)
        return str(path)

    def prefix(self, letter: str, target: Target) -> str:
        """Unique per run, target and row (the targets of a run share nothing, but a kept
        cluster directory might)."""
        return f"{letter}{self.run}{target.replicas}{len(target.results)}-"

    def serial(self, target: Target) -> dict:
        title = "serial numbers"
        events = lambda: count(target, "/api/events/", {"type": EVENT_TYPE})  # noqa: E731
        r = measure(target, "/api/generate/serial-number/",
                    [f"Authorization: Token {target.token}"], self.seconds,
                    self.lua(SERIAL_LUA), rows=events)
        check_created(target, title, r)
        logged = all_event_serials(target.base, target.auth)
        target.check(f"{target.label}, {title}: no serial handed out twice",
                     len(r["serials"]) == len(set(r["serials"]))
                     and len(logged) == len(set(logged)),
                     f"{len(r['serials'])} received by wrk, {len(set(r['serials']))} distinct; "
                     f"{len(logged)} in the audit log (every `{EVENT_TYPE}` so far), "
                     f"{len(set(logged))} distinct")
        target.check(f"{target.label}, {title}: every serial received is in the audit log",
                     set(r["serials"]) <= set(logged),
                     f"{len(set(r['serials']) - set(logged))} missing")
        return r

    def project_codes(self, target: Target) -> dict:
        prefix = self.prefix("C", target)
        codes = lambda: count(target, "/api/project-code/", {"search": prefix})  # noqa: E731
        r = measure(target, "/api/project-code/", [f"Authorization: Token {target.token}"],
                    self.seconds, self.lua(UNIQUE_LUA % {"prefix": prefix, "body": PROJECT_BODY}),
                    rows=codes)
        check_created(target, "project codes", r)
        return r

    def links(self, target: Target) -> dict:
        script = self.lua(UNIQUE_LUA % {"prefix": self.prefix("L", target), "body": LINK_BODY})
        r = measure(target, "/api/attachment/", [f"Authorization: Token {target.token}"],
                    self.seconds, script, rows=self.attachment_rows(target))
        check_created(target, "link attachments", r)
        return r

    def uploads(self, target: Target) -> dict:
        blob = self.tmp / "blob-1mb.bin"
        if not blob.exists():
            blob.write_bytes(os.urandom(MB))
        script = self.lua(UPLOAD_LUA % {"blob": blob, "token": target.token,
                                        "boundary": BOUNDARY, "ids": UPLOAD_IDS})
        r = measure(target, "/api/attachment/", [], self.seconds, script,
                    rows=self.attachment_rows(target))
        check_created(target, "1 MB uploads", r)
        return r

    @staticmethod
    def attachment_rows(target: Target) -> Callable[[], int]:
        return lambda: count(target, "/api/attachment/", {})

    def detail(self, target: Target) -> dict:
        seeded = count(target, "/api/attachment/", {})
        pks = sorted({1 + k * max(1, seeded // 200) for k in range(200)} & set(
            range(1, seeded + 1)))
        first = requests.get(f"{target.base}/api/attachment/{pks[-1]}/", timeout=30,
                             headers={**target.auth, "Cache-Control": "no-cache"})
        target.check(f"{target.label}, attachment detail: a seeded pk answers 200",
                     first.status_code == 200,
                     f"`GET /api/attachment/{pks[-1]}/` → {first.status_code}; "
                     f"{len(pks)} pks over {seeded:,} rows")
        script = self.lua(ROTATE_LUA % ", ".join(json.dumps(f"/api/attachment/{pk}/")
                                                 for pk in pks))
        return measure(target, "/api/attachment/", [f"Authorization: Token {target.token}",
                                                    "Cache-Control: no-cache"],
                       self.seconds, script)

    def listing(self, target: Target) -> dict:
        return measure(target, "/api/attachment/?limit=50",
                       [f"Authorization: Token {target.token}", "Cache-Control: no-cache"],
                       self.seconds, None)

    def imported(self, target: Target) -> dict:
        """importer.run_size: the session, accept_fields, accept_rows (pipelined, 2 calls in
        flight), until status 40; `rps` is rows/s."""
        res = run_size(target.base, target.auth, target.groups(), self.tmp,
                       self.prefix("I", target), self.rows, True, 2)
        for name, ok, detail in res["checks"]:
            target.check(f"{target.label}, import {name}", ok, detail)
        first, last = res["snaps"][0], res["snaps"][-1]
        elapsed = last["t"] - first["t"]
        res["cpu"] = {k: max(0.0, last["cpu"][k] - first["cpu"][k]) / elapsed
                      for k in first["cpu"]}
        res["cpu"]["machine (all)"] = (last["busy"] - first["busy"]) / elapsed
        res["cpu"]["other work"] = max(0.0, res["cpu"]["machine (all)"] - sum(
            v for k, v in res["cpu"].items() if k != "machine (all)"))
        return res


# operation key -> (title in the table, a write?, Operations method)
ROWS = [
    ("detail", "GET /api/attachment/<pk>/ (no-cache)", False, Operations.detail),
    ("list", "GET /api/attachment/?limit=50 (no-cache)", False, Operations.listing),
    ("serial", "POST /api/generate/serial-number/", True, Operations.serial),
    ("project", "POST /api/project-code/ (unique codes)", True, Operations.project_codes),
    ("link", "POST /api/attachment/ (link)", True, Operations.links),
    ("upload", "POST /api/attachment/ (1 MB multipart)", True, Operations.uploads),
    ("import", "import of project codes (rows/s)", True, Operations.imported),
]
REPLICA_ROWS = ("serial", "project")


def run_rows(ops: Operations, target: Target, keys) -> None:
    for key, title, _write, method in ROWS:
        if key not in keys:
            continue
        print(f"{target.label}: {title}", flush=True)
        try:
            r = method(ops, target)
        except Exception as exc:  # reported, and the next row runs
            target.check(f"{target.label}, {title}: ran to the end", False,
                         f"{type(exc).__name__}: {exc}"[:300])
            continue
        target.results[key] = r
        if key == "import":
            print(f"  {r['rps']:.0f} rows/s ({r['n']:,} rows in {r['seconds']:.1f} s)",
                  flush=True)
        else:
            print(f"  {r['rps']:.0f} req/s  p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  "
                  f"non-2xx/3xx {r['errors']}  cores: " + ", ".join(
                      f"{k} {v:.2f}" for k, v in sorted(r["cpu"].items(), key=lambda kv: -kv[1])
                      if v >= 0.05), flush=True)


def seed(target: Target, rows: int):
    """`rows` link attachments through the service's EventStore, marked published (history
    already sent: no relay or audit work during the measurements)."""
    if rows <= 0:
        return
    result = seed_rows(target.attachments_db, rows, max(UPLOAD_IDS, rows // 10), 5000,
                       mark_published=True)
    print(f"{target.label}: seeded {rows:,} attachments in {result['seconds']:.1f} s",
          flush=True)


# --- the targets ---

@contextmanager
def sqlite_target(port: int) -> Iterator[Target]:
    load = os.getloadavg()
    t0 = time.monotonic()
    with bench_stack("bench-cluster-sqlite", port, ENV) as (stack, token, _):
        db = stack.run_tool("-c", "from services.attachments.settings import "
                                  "AttachmentsSettings; "
                                  "print(AttachmentsSettings().database_url('attachments'))")
        yield Target("SQLite", stack.url, token, lambda: sqlite_groups(stack), db,
                     load_before=load, started_in=time.monotonic() - t0,
                     processes=lambda: {n: tree(p.pid) for n, p in stack.procs.items()})


@contextmanager
def cluster_target(replicas: int, keep: bool) -> Iterator[Target]:
    load = os.getloadavg()
    run = uuid.uuid4().hex[:6]
    directory = ROOT / "var" / f"bench-cluster-{run}"
    cluster = Cluster(directory, Ports.free(), node_prefix=f"b{run}n", replicas=replicas,
                      env={**ENV, "INVENTREE_ADMIN_USER": ADMIN[0],
                           "INVENTREE_ADMIN_PASSWORD": ADMIN[1]})
    t0 = time.monotonic()
    print(f"starting the cluster ({replicas} replica(s) of every service) in {directory}",
          flush=True)
    try:
        cluster.start()
        cluster.stack.run_tool("-m", "services.users.cli", "ensure-admin")
        token = requests.get(f"{cluster.url}/api/user/token/", auth=ADMIN,
                             timeout=30).json()["token"]
        started = time.monotonic() - t0
        print(f"cluster started in {started:.0f} s", flush=True)
        target = Target(f"cluster ×{replicas}", cluster.url, token,
                        lambda: cluster_groups(cluster), cluster.postgres.url("attachments"),
                        replicas=replicas, load_before=load, started_in=started,
                        processes=lambda: {n: tree(p.pid)
                                           for n, p in cluster.stack.procs.items()})
        yield target
        keep = keep or not all(ok for _, ok, _ in target.checks)
    except BaseException:
        keep = True  # its logs say why
        raise
    finally:
        cluster.stop()
        if keep:
            print(f"kept {directory} (its logs: services.log, rabbitmq/, postgres/, haproxy/)",
                  flush=True)
        else:
            shutil.rmtree(directory, ignore_errors=True)


# --- the report ---

def fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def cpu_ms(r: dict | None) -> float | None:
    """CPU milliseconds the target's own processes (services, gateways, broker, database,
    load balancer) spent per request (per row for the import): less sensitive to other work
    on the machine than requests/s."""
    if not r or not r.get("rps"):
        return None
    ours = sum(v for k, v in r["cpu"].items()
               if k not in ("machine (all)", "other work", "wrk", "bench client"))
    return ours / r["rps"] * 1000


def errors(r: dict | None) -> str:
    return "—" if not r or "errors" not in r else str(r["errors"])


def verdicts(key: str, write: bool, sqlite: dict | None, cluster: dict | None) -> tuple[str, str]:
    """(the target, whether the cluster met it) for one row of the main table."""
    wanted, results = [], []
    if write:
        wanted.append(f"≥ {TARGET_RATIO:.0%} of SQLite")
        if sqlite and cluster:
            results.append(cluster["rps"] >= TARGET_RATIO * sqlite["rps"])
    if key in TARGETS:
        wanted.append(f"≥ {TARGETS[key]:,} " + ("rows/s" if key == "import" else "req/s"))
        if cluster:
            results.append(cluster["rps"] >= TARGETS[key])
    if not wanted:
        return "—", ""
    if not cluster or len(results) < len(wanted):
        return ", ".join(wanted), "not measured"
    return ", ".join(wanted), "met" if all(results) else "MISSED"


def why(title: str, one: dict, two: dict) -> str:
    """What the CPU readings say about 1 → 2 replicas of every service, for one row."""
    cores = os.cpu_count() or 1
    m1, m2 = one["cpu"]["machine (all)"], two["cpu"]["machine (all)"]
    s1, s2 = one["cpu"].get("system", 0.0), two["cpu"].get("system", 0.0)
    per = ", ".join(f"{k} {v:.2f}" for k, v in sorted(two["replica_cpu"].items()))
    ours1 = sum(v for k, v in one["cpu"].items() if k not in ("machine (all)", "other work"))
    ours2 = sum(v for k, v in two["cpu"].items() if k not in ("machine (all)", "other work"))
    text = (f"**{title}**: {one['rps']:.0f} → {two['rps']:.0f} req/s "
            f"({two['rps'] / one['rps'] - 1:+.0%}), p99 {one['p99']:.1f} → {two['p99']:.1f} ms. "
            f"Machine busy {m1:.2f} → {m2:.2f} of {cores} cores (other work on the machine "
            f"{one['cpu']['other work']:.2f} → {two['cpu']['other work']:.2f}); the system "
            f"service used {s1:.2f} cores in one process → {s2:.2f} in two ({per}); the "
            f"topology's CPU per request {ours1 / one['rps'] * 1000:.1f} → "
            f"{ours2 / two['rps'] * 1000:.1f} ms. ")
    noise = max(one["cpu"]["other work"], two["cpu"]["other work"])
    if noise >= 0.25 * cores:
        text += (f"Other work on the machine took up to {noise:.2f} cores during these rows, "
                 "so the requests/s say more about the scheduler than about the replicas; "
                 "compare the CPU per request, and run again on a quiet machine. ")
        if ours2 > 1.3 * ours1:
            text += (f"The topology's own processes got {ours1:.2f} → {ours2:.2f} cores: with "
                     "more processes it wins a larger share of contended cores from the other "
                     "work (the scheduler shares the cores per runnable thread), a gain a quiet "
                     "machine would not show. ")
    if m1 >= 0.9 * cores and noise < 0.25 * cores:
        text += ("With one replica the cores were already full: a second replica can only "
                 "take CPU from the gateways, RabbitMQ and PostgreSQL on the same cores, so "
                 "throughput cannot grow; it moves by what the extra process costs or saves.")
    elif m1 >= 0.9 * cores:
        text += ("The cores were full with one replica (largely with other work): a second "
                 "replica competes for the same cores.")
    elif s1 >= 0.85:
        text += ("With one replica the system process was near a full core (one Python process "
                 "runs on one core at a time) while the machine had idle CPU: a second replica "
                 "adds capacity until the cores are full.")
    else:
        text += ("With one replica neither the machine nor the system process was CPU-bound: "
                 "requests were waiting (database round trips, the lock that serialises "
                 "reservations of one part, broker hops), which a second replica does not "
                 "remove.")
    return text


def report(args, targets: list, failures: list[str], version: str) -> list[str]:
    cores = os.cpu_count()
    memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    short = args.seconds < 10 or args.rows < 100_000 or args.attachments < 100_000
    by_label = {t.label: t for t in targets}
    sqlite = by_label.get("SQLite")
    main = by_label.get(f"cluster ×{MAIN_REPLICAS}")
    lines = [f"# Production path benchmark: `make cluster` next to SQLite, "
             f"{datetime.now():%Y-%m-%d %H:%M}", ""]
    if short:
        lines += [f"**Short development run** (`--seconds {args.seconds} --rows {args.rows} "
                  f"--attachments {args.attachments}`) on a machine loaded by other work: it "
                  "shows that the bench runs and checks, not the figures; the measurement is "
                  "`.venv/bin/python bench/cluster.py` (10 s rows, 100,000 rows) on a quiet "
                  "machine.", ""]
    lines += [
        f"{cores} cores, {memory_gb:.0f} GB; code: {version}. wrk with 2 threads at c="
        f"{CONCURRENCY}, {args.seconds} s per row after a 2 s warm-up at c=4 (the warm-up's "
        "writes are not counted); the targets one after the other on the same machine:", ""]
    for t in targets:
        load = ", ".join(f"{x:.2f}" for x in t.load_before)
        if t.label == "SQLite":
            topology = ("the single-process stack (bench_stack): one gunicorn with 2 gthread "
                        "workers, one process per service, SQLite (WAL) files, the machine's "
                        "RabbitMQ in a vhost of its own; wrk straight to the gunicorn")
        else:
            topology = (f"`make cluster`'s topology (svckit.cluster) with {t.replicas} "
                        f"replica(s) of every service: 3 RabbitMQ nodes (quorum queues), "
                        "PostgreSQL (its own instance, a database per service), 2 gateway "
                        "instances (1 gunicorn worker each) behind HAProxy; wrk to HAProxy")
        lines.append(f"- **{t.label}**: {topology}. Load average {load} before it started; "
                     f"started in {t.started_in:.0f} s.")
    lines += [
        "", f"Before the rows, {args.attachments:,} link attachments were seeded on each "
        "target through the attachments service's EventStore (marked published: no relay or "
        "audit work during the rows). What each row sends (token of the admin superuser):", "",
        "- attachment detail: `GET /api/attachment/<pk>/` with `Cache-Control: no-cache` "
        "(the gateway's read model bypassed: every request is an RPC), 200 pks over the seeded "
        "rows rotating in Lua.",
        "- attachment list: `GET /api/attachment/?limit=50` with `Cache-Control: no-cache`.",
        "- serial numbers: `POST /api/generate/serial-number/` `{\"part\": 1, \"quantity\": 1}`"
        " (all for one part: its reservations are serialised).",
        "- project codes: `POST /api/project-code/`, a unique code per request from Lua.",
        "- link attachments: `POST /api/attachment/` JSON with `model_type` part, `model_id` "
        "1..50 and a unique `link`.",
        f"- 1 MB uploads: `POST /api/attachment/` multipart, a 1 MB file part, bodies built "
        f"once in Lua (model_id 1..{UPLOAD_IDS}).",
        f"- import: a CSV of {args.rows:,} project codes through the importer API (bench/"
        "importer.py: session, accept_fields, accept_rows pipelined with 2 calls in flight) "
        "from the session POST to status 40; rows/s = rows / seconds.", "",
        "`CPU ms` is the CPU time the target's own processes spent per request (per row for "
        "the import), from /proc: other work on the machine disturbs it less than requests/s, "
        "though contended cores inflate it too (context switches, cold caches). `non-2xx` "
        "counts the answers of the measured row that were not 2xx/3xx (requests/s counts "
        "every answer).", "",
        "| operation | SQLite req/s | p99 ms | CPU ms | non-2xx | cluster req/s | p99 ms | "
        "CPU ms | non-2xx | cluster / SQLite | target (cluster) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, title, write, _ in ROWS:
        a = sqlite.results.get(key) if sqlite else None
        b = main.results.get(key) if main else None
        ratio = f"{b['rps'] / a['rps']:.0%}" if a and b and a["rps"] else "—"
        wanted, verdict = verdicts(key, write, a, b)
        p99a = None if key == "import" or not a else a["p99"]
        p99b = None if key == "import" or not b else b["p99"]
        lines.append(f"| {title} | {fmt(a and a['rps'])} | {fmt(p99a, 1)} | "
                     f"{fmt(cpu_ms(a), 2)} | {errors(a)} | **{fmt(b and b['rps'])}** | "
                     f"{fmt(p99b, 1)} | {fmt(cpu_ms(b), 2)} | {errors(b)} | {ratio} | "
                     f"{wanted} | {verdict} |")
    phases = [(t, t.results["import"]) for t in targets if "import" in t.results]
    if phases:
        lines += ["", "Import phases, seconds (scan: the session POST; parse: accept_fields "
                  "to status 30; accept: paging and accept_rows; tail: to status 40):", "",
                  "| target | rows | scan | parse | accept | tail | total | rows/s |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for t, res in phases:
            snaps = res["snaps"]
            steps = [b["t"] - a["t"] for a, b in zip(snaps, snaps[1:])]
            lines.append(f"| {t.label} | {res['n']:,} | "
                         + " | ".join(f"{x:.1f}" for x in steps)
                         + f" | {res['seconds']:.1f} | {res['rps']:.0f} |")

    lines += ["", "## 1 replica against 2 replicas of every service", "",
              "The same rows on the cluster with each replica count (gateways, RabbitMQ and "
              "PostgreSQL unchanged). Cores busy on average during the row (1.00 = one core).",
              ""]
    clusters = sorted((t for t in targets if t.label != "SQLite"), key=lambda t: t.replicas)
    labels = sorted({k for t in clusters for key in REPLICA_ROWS
                     for k in t.results.get(key, {}).get("cpu", {})}, key=label_order)
    lines += ["| operation | replicas | req/s | p99 ms | system per replica | "
              + " | ".join(labels) + " |",
              "| --- | --- | --- | --- | --- |" + " --- |" * len(labels)]
    for key, title, _, _ in ROWS:
        if key not in REPLICA_ROWS:
            continue
        for t in clusters:
            r = t.results.get(key)
            if r:
                per = ", ".join(f"{v:.2f}" for _, v in sorted(r["replica_cpu"].items()))
                lines.append(f"| {title} | {t.replicas} | **{r['rps']:.0f}** | {r['p99']:.1f} | "
                             f"{per} | " + " | ".join(f"{r['cpu'].get(k, 0):.2f}"
                                                      for k in labels) + " |")
    one = next((t for t in clusters if t.replicas == 1), None)
    if one and main:
        lines += ["", "Why (the script's reading of the CPU figures above):", ""]
        for key, title, _, _ in ROWS:
            if key in REPLICA_ROWS and key in one.results and key in main.results:
                lines += [f"- {why(title, one.results[key], main.results[key])}"]

    lines += ["", "## Where the CPU goes", "",
              "Cores busy on average during each row (1.00 = one core fully used; the machine "
              f"has {cores}). Each service's column is all its replicas; `machine (all)` is "
              "every process on the machine, `other work` what none of the listed used (other "
              "jobs). For the import, over the whole import, `bench client` is this script.", ""]
    for t in targets:
        labels = sorted({k for r in t.results.values() for k in r.get("cpu", {})},
                        key=label_order)
        lines += [f"### {t.label}", "", "| operation | " + " | ".join(labels) + " |",
                  "| --- |" + " --- |" * len(labels)]
        for key, title, _, _ in ROWS:
            if key in t.results:
                cpu = t.results[key]["cpu"]
                lines.append(f"| {title} | " + " | ".join(
                    fmt(cpu.get(k), 2) for k in labels) + " |")
        lines.append("")

    for t in targets:
        for key, title, _, _ in ROWS:
            if t.results.get(key, {}).get("py_spy"):
                lines += [f"### py-spy of {t.spy} ({t.label}), {title}", "", "```",
                          t.results[key]["py_spy"], "```", ""]

    checks = [c for t in targets for c in t.checks]
    lines += ["## Correctness while measuring", "", "| check | result | detail |",
              "| --- | --- | --- |"]
    lines += [f"| {name} | {'ok' if ok else 'FAILED'} | {detail} |" for name, ok, detail in checks]
    lines += [f"| {failure} | FAILED | |" for failure in failures]
    return lines


def label_order(label: str) -> tuple[int, str]:
    """Services first, then gateway, broker, database, load balancer, wrk, the machine."""
    tail = ["gateway", "rabbitmq", "rabbitmq (3 nodes)", "postgresql", "haproxy", "wrk",
            "bench client", "other work", "machine (all)"]
    return (tail.index(label) + 1 if label in tail else 0, label)


# --- the run ---

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk row")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the import")
    parser.add_argument("--attachments", type=int, default=100_000,
                        help="link attachments seeded before the rows")
    parser.add_argument("--replicas", default=f"1,{MAIN_REPLICAS}",
                        help="replicas of every service to compare on serial numbers and "
                             f"project codes (the full set of rows runs with {MAIN_REPLICAS})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the clusters' directories (var/bench-cluster-*: logs); "
                             "they are kept anyway when a check fails")
    parser.add_argument("--ops", default=",".join(key for key, *_ in ROWS),
                        help="the rows to run (keys: " + ", ".join(k for k, *_ in ROWS) + ")")
    parser.add_argument("--targets", default="sqlite,cluster",
                        help="sqlite, cluster (the main replica count and the --replicas "
                             "comparison), or both")
    parser.add_argument("--py-spy", default="", metavar="GROUP",
                        help="record the first process of GROUP (a service, `gateway`) with "
                             "py-spy during each row; its top frames go into the report")
    args = parser.parse_args()
    logging.getLogger("amqp").setLevel(logging.ERROR)
    counts = sorted({int(n) for n in args.replicas.split(",") if n.strip()} - {MAIN_REPLICAS})
    run = uuid.uuid4().hex[:4]
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    version = code_version()
    ops = Operations(tmp, args.seconds, args.rows, run)
    chosen = {k.strip() for k in args.ops.split(",") if k.strip()}
    unknown = chosen - {key for key, *_ in ROWS}
    if unknown:
        parser.error(f"unknown --ops: {', '.join(sorted(unknown))}")
    everything = [key for key, *_ in ROWS if key in chosen]
    kinds = {k.strip() for k in args.targets.split(",") if k.strip()}
    if not kinds or kinds - {"sqlite", "cluster"}:
        parser.error("--targets: sqlite, cluster or both")
    plan = []
    if "sqlite" in kinds:
        plan.append(("SQLite", lambda: sqlite_target(Ports.free().http), everything, True))
    if "cluster" in kinds:
        plan.append((f"cluster ×{MAIN_REPLICAS}",
                     lambda: cluster_target(MAIN_REPLICAS, args.keep), everything, True))
        compared = [k for k in REPLICA_ROWS if k in chosen]
        plan += [(f"cluster ×{n}", lambda n=n: cluster_target(n, args.keep), compared, False)
                 for n in counts if compared]
    targets, failures = [], []
    try:
        for label, start, keys, seeded in plan:
            try:
                with start() as target:
                    target.spy = args.py_spy
                    targets.append(target)
                    if seeded:
                        seed(target, args.attachments)
                    run_rows(ops, target, keys)
            except Exception as exc:  # the report says so; the next target runs
                failures.append(f"{label}: {type(exc).__name__}: {exc}"[:300])
                print(f"FAILED {failures[-1]}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_report("cluster", report(args, targets, failures, version))


if __name__ == "__main__":
    main()
