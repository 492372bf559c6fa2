"""CPU time per request, per process of the stack: a measure that other work on the machine
changes much less than req/s (on a loaded 2-core machine, req/s mostly measures the load).

Starts a stack of its own (as bench/system.py: 2 gateway workers, every service, SQLite,
its own RabbitMQ vhost and data directory) for this checkout, or one for each `--checkout`
(another checkout of the project, e.g. `git worktree add /tmp/old <commit>`, run with its
own `.venv/bin/python` when it has one), all running at once. Then, round after round, for
each operation and each stack in turn: measures every process's idle CPU rate, sends N
requests from `--concurrency` client threads (keep-alive sessions), waits until the stack is
idle again (the relay published, the audit service consumed) and reads utime+stime of every
process from /proc/<pid>/stat. A process's CPU per request is (its CPU over the requests and
the settling − its idle rate × that time) / N. Alternating the stacks batch by batch (in
reverse order every other round) compares checkouts under the same load. RabbitMQ (every
beam.smp on the machine: the shared broker, other engineers' traffic included) is shown
apart.

Operations:
  serial    POST /api/generate/serial-number/ {"part": 1, "quantity": 1} (a write + event)
  projcode  POST /api/project-code/ with a new code each time (a write + event)
  root      GET /api/ as the superuser (7 RPCs: a ping of every service, the database engine)
  icons304  GET /api/icons/ with a matching If-None-Match (the gateway alone)

Prints, per operation, CPU ms per request per process (median over the rounds), one column
per checkout, and writes it to bench/results/cpu-<date>[-<label>].md.

    .venv/bin/python bench/cpu_per_request.py [--ops serial,projcode,root,icons304]
        [--requests 2000] [--rounds 3] [--concurrency 8] [--checkout DIR ...] [--label L]
"""
import argparse
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import requests

from common import ADMIN, MANAGEMENT, ROOT, children, cpu_seconds
from svckit import children as child_processes
from svckit.signing import signer_from_env
from svckit.stack import Stack

SETTLE_TIMEOUT = 60.0  # seconds to wait for the stack to go idle after the requests
IDLE_SECONDS = 3.0  # how long each process's idle CPU rate is sampled before a batch


class CheckoutStack(Stack):
    """A Stack running the code of `root` (any checkout of the project) with `python`."""

    def __init__(self, root: Path, python: str, env: dict, bind: str, log):
        super().__init__(env, bind=bind, log=log)
        self.root, self.python = root, python
        self.env["PYTHONPATH"] = str(root)

    def run_tool(self, *args) -> str:
        out = subprocess.run([self.python, *args], env=self.env, cwd=self.root, check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def services(self) -> list[str]:
        return sorted(p.parent.name for p in (self.root / "services").glob("*/models.py"))

    def start(self, wait: float = 120.0):
        signer_from_env(self.env)  # the stack's shared caller signing key
        for svc in self.services():
            self.commands[f"{svc}-0"] = [self.python, "-m", "svckit.run", svc]
        self.commands["gateway"] = [self.python, "-m", "gunicorn", "-c",
                                    "gateway/gunicorn_conf.py", "gateway.wsgi:app"]
        for name, command in self.commands.items():
            self.procs[name] = child_processes.spawn(command, self.env, self.log, cwd=self.root)
        self.wait_ready(wait)


def describe(root: Path) -> str:
    """The checkout's short commit (with `+` when it has uncommitted changes)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain") else "")


@contextmanager
def checkout_stack(root: Path, port: int):
    """A started stack of the checkout `root` in a RabbitMQ vhost and data directory of its
    own, with the superuser ADMIN; yields (stack, admin token)."""
    python = root / ".venv" / "bin" / "python"
    vhost = f"bench-cpu-{uuid.uuid4().hex[:6]}"
    auth = ("guest", "guest")
    requests.put(f"{MANAGEMENT}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{vhost}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    data = ROOT / "var" / f"bench-cpu-{port}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    data.mkdir(parents=True)
    env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
           "INVENTREE_DATA_DIR": str(data), "INVENTREE_ADMIN_PASSWORD": ADMIN[1],
           "GATEWAY_WORKERS": "2", "LOG_LEVEL": "WARNING", "CURRENCY_UPDATE_INTERVAL": "0",
           "NEWS_FEED_INTERVAL": "0"}
    stack = CheckoutStack(root, str(python) if python.exists() else sys.executable, env,
                          f"127.0.0.1:{port}", open(data / "stack.log", "w"))
    try:
        stack.run_tool("-m", "svckit.migrate")
        stack.run_tool("-m", "services.users.cli", "ensure-admin")
        stack.start()
        token = requests.get(f"{stack.url}/api/user/token/", auth=ADMIN,
                             timeout=30).json()["token"]
        yield stack, token
    finally:
        stack.stop()
        requests.delete(f"{MANAGEMENT}/vhosts/{vhost}", auth=auth, timeout=10)


OPERATIONS = {"serial": ("POST /api/generate/serial-number/", 201),
              "projcode": ("POST /api/project-code/ (a new code)", 201),
              "root": ("GET /api/ (superuser: 7 RPCs)", 200),
              "icons304": ("GET /api/icons/ (If-None-Match → 304)", 304)}


def senders(base: str, token: str) -> dict:
    """operation -> a function sending one request of it on a requests session."""
    staff = {"Authorization": f"Token {token}"}
    etag = requests.get(f"{base}/api/icons/", timeout=30).headers["ETag"]
    codes = itertools.count()
    run_id = uuid.uuid4().hex[:6]
    return {
        "serial": lambda s: s.post(f"{base}/api/generate/serial-number/", headers=staff,
                                   json={"part": 1, "quantity": 1}, timeout=30),
        "projcode": lambda s: s.post(f"{base}/api/project-code/", headers=staff, timeout=30,
                                     json={"code": f"P{run_id}-{next(codes)}",
                                           "description": "bench"}),
        "root": lambda s: s.get(f"{base}/api/", headers=staff, timeout=30),
        "icons304": lambda s: s.get(f"{base}/api/icons/", headers={"If-None-Match": etag},
                                    timeout=30),
    }


def processes(stack: Stack) -> dict[str, list[int]]:
    """label -> pids: each gateway worker apart (the master's own CPU under `gateway
    master`), each service process, and RabbitMQ."""
    groups: dict[str, list[int]] = {}
    for name, proc in stack.procs.items():
        if name.startswith("gateway"):
            groups["gateway master"] = [proc.pid]
            for i, pid in enumerate(sorted(children(proc.pid))):
                groups[f"gateway worker {i}"] = [pid]
        else:
            groups[name.rsplit("-", 1)[0]] = [proc.pid]
    beam = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    groups["rabbitmq (shared)"] = [int(p) for p in beam.split()]
    return groups


def snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    return {label: sum(cpu_seconds(p) for p in pids) for label, pids in groups.items()}


def idle_rates(groups) -> dict[str, float]:
    """CPU seconds per second each process uses when no request comes (timers, heartbeats)."""
    a, t0 = snapshot(groups), time.monotonic()
    time.sleep(IDLE_SECONDS)
    b, t1 = snapshot(groups), time.monotonic()
    return {k: max(0.0, (b[k] - a[k]) / (t1 - t0)) for k in a}


def settle(groups, idle: dict[str, float], labels: list[str]) -> None:
    """Until the processes `labels` use no more than their idle rate (+2 ms/s each) over
    half a second."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last, t_last = snapshot(groups), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now, t_now = snapshot(groups), time.monotonic()
        busy = sum(max(0.0, (now[k] - last[k]) / (t_now - t_last) - idle[k]) for k in labels)
        if busy <= 0.002 * len(labels):
            return
        last, t_last = now, t_now
    raise RuntimeError(f"the stack did not go idle within {SETTLE_TIMEOUT} s")


def drive(send, expected: int, count: int, concurrency: int) -> tuple[float, list[float]]:
    """Sends `count` requests from `concurrency` threads; returns the seconds it took and
    every request's latency (seconds). Raises on any answer other than `expected`."""
    remaining = iter(range(count))
    lock = threading.Lock()
    failures: list[str] = []
    latencies: list[float] = []

    def worker():
        with requests.Session() as session:
            while True:
                with lock:
                    if next(remaining, None) is None or failures:
                        return
                t0 = time.perf_counter()
                r = send(session)
                latency = time.perf_counter() - t0
                with lock:
                    latencies.append(latency)
                    if r.status_code != expected:
                        failures.append(f"{r.status_code} {r.text[:200]}")

    pool = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise RuntimeError(f"unexpected answer: {failures[0]}")
    return time.monotonic() - t0, latencies


def measure(stack: Stack, send, expected: int, count: int, concurrency: int) -> dict:
    """CPU ms per request of every process for `count` requests, the req/s and the median
    latency (ms) seen."""
    groups = processes(stack)
    labels = [k for k in groups if not k.startswith("rabbitmq")]
    idle = idle_rates(groups)
    cpu0, t0 = snapshot(groups), time.monotonic()
    elapsed, latencies = drive(send, expected, count, concurrency)
    settle(groups, idle, labels)
    cpu1, t1 = snapshot(groups), time.monotonic()
    ms = {k: max(0.0, (cpu1[k] - cpu0[k]) - idle[k] * (t1 - t0)) * 1000 / count for k in cpu0}
    ms["gateway (all)"] = sum(v for k, v in ms.items() if k.startswith("gateway"))
    ms["stack (all but RabbitMQ)"] = sum(v for k, v in ms.items() if k in labels)
    return {"ms": ms, "rps": count / elapsed, "p50": statistics.median(latencies) * 1000}


def report(results: dict, names: list[str]) -> list[str]:
    """One table per operation: processes down, checkouts across (medians of the rounds)."""
    lines: list[str] = []
    for op, per_checkout in results.items():
        labels: list[str] = []
        for rounds in per_checkout.values():
            for r in rounds:
                labels += [k for k in r["ms"] if k not in labels]
        lines += [f"### `{OPERATIONS[op][0]}`", "",
                  "| process | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
        for label in labels:
            cells = [statistics.median(r["ms"].get(label, 0.0) for r in per_checkout[n])
                     for n in names]
            bold = "**" if label.startswith("stack") else ""
            lines.append(f"| {bold}{label}{bold} | "
                         + " | ".join(f"{bold}{c:.2f}{bold}" for c in cells) + " |")
        lines.append("| rounds: stack ms/request | " + " | ".join(
            " / ".join(f"{r['ms']['stack (all but RabbitMQ)']:.2f}" for r in per_checkout[n])
            for n in names) + " |")
        lines.append("| rounds: req/s (noisy) | " + " | ".join(
            " / ".join(f"{r['rps']:.0f}" for r in per_checkout[n]) for n in names) + " |")
        lines.append("| rounds: p50 latency ms (noisy) | " + " | ".join(
            " / ".join(f"{r['p50']:.1f}" for r in per_checkout[n]) for n in names) + " |")
        lines.append("")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", default=",".join(OPERATIONS))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--checkout", action="append", type=Path, default=[],
                        help="another checkout to measure (repeatable); default: this one")
    parser.add_argument("--port", type=int, default=8120, help="first stack's port")
    parser.add_argument("--label", default="", help="added to the report's file name")
    args = parser.parse_args()
    wanted = [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = set(wanted) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations {sorted(unknown)}; known: {sorted(OPERATIONS)}")
    roots = [p.resolve() for p in args.checkout] or [ROOT]
    load_before = os.getloadavg()
    with ExitStack() as running:
        stacks = {}
        for i, root in enumerate(roots):
            name = f"{describe(root)} ({root})"
            stack, token = running.enter_context(checkout_stack(root, args.port + i))
            stacks[name] = (stack, senders(stack.url, token))
        for _, send in stacks.values():  # warm every worker, connection and cache
            for op in wanted:
                drive(send[op], OPERATIONS[op][1], args.warmup, args.concurrency)
        results: dict = {op: {name: [] for name in stacks} for op in wanted}
        for rnd in range(args.rounds):
            for op in wanted:
                turns = list(stacks.items())  # the checkouts take turns, and every other
                for name, (stack, send) in turns[::-1] if rnd % 2 else turns:  # round reversed
                    r = measure(stack, send[op], OPERATIONS[op][1], args.requests,
                                args.concurrency)
                    results[op][name].append(r)
                    print(f"round {rnd + 1} {op:9} {name}: {r['rps']:5.0f} req/s  "
                          f"p50 {r['p50']:.1f} ms  " + "  ".join(
                        f"{k} {v:.2f}" for k, v in r["ms"].items() if v >= 0.005), flush=True)
    load = ", ".join(f"{x:.2f}" for x in load_before)
    lines = [f"# CPU per request, {datetime.now():%Y-%m-%d %H:%M}"
             + (f" ({args.label})" if args.label else ""), "",
             f"{os.cpu_count()} cores (load average {load} before start); per checkout a "
             "whole stack, local: 2 gunicorn gthread workers, one process per service, "
             f"SQLite, RabbitMQ in its own vhost. {args.requests} requests per operation, "
             f"checkout and round from {args.concurrency} client threads (keep-alive), "
             f"{args.rounds} rounds, the checkouts taking turns on each operation (in reverse "
             "order every other round), after a "
             f"warm-up of {args.warmup} each; superuser `{ADMIN[0]}` by token.", "",
             "CPU ms per request (utime + stime from /proc, over the requests and until the "
             "stack is idle again, minus each process's idle rate), median of the rounds. "
             "RabbitMQ is the machine's shared broker: other engineers' traffic counts too.",
             ""]
    lines += report(results, list(stacks))
    out = ROOT / "bench" / "results" / (f"cpu-{datetime.now():%Y%m%d-%H%M}"
                                        f"{'-' + args.label if args.label else ''}.md")
    out.write_text("\n".join(lines))
    print("\n".join(lines) + f"\nwrote {out}")


if __name__ == "__main__":
    main()
