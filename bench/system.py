"""Load benchmark of system endpoints: icons (304 and full body) and serial-number reservation.

Starts its own stack (2 gateway workers, every service, SQLite, or fresh PostgreSQL databases
with --postgres) on port 8110 in a RabbitMQ
vhost of its own, then runs wrk at concurrency 1 and 16 against:
  GET /api/icons/ with a matching If-None-Match (304)    (target >= 3,000 req/s at c16)
  GET /api/icons/ full body, gzip and plain               (target >= 100 req/s at c16)
  POST /api/generate/serial-number/ {"part": 1, ...}      (target >= 500 req/s at c16)
and checks that no serial is handed out twice: the serials wrk received (Lua response hook),
the `serial_numbers.reserved` events the audit service recorded (paged through
/api/events/), and a second check with 16 Python threads x 50 requests. Per c16 row it also
records the CPU each process of the stack (and RabbitMQ, and the whole machine) used, to show
where the time goes. Writes a table to bench/results/system[-postgres]-<date>.md.

    .venv/bin/python bench/system.py [--seconds 10] [--postgres [ADMIN_URL]]
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import requests

from common import TICK, bench_stack, children, cpu_seconds, postgres_databases, to_ms, write_report
from svckit.layout import service_names
from svckit.stack import Stack

SERIAL_BODY = '{"part": 1, "quantity": 1}'
EVENT_TYPE = "serial_numbers.reserved"

SERIAL_LUA = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) created = 0; serials = {} end
function response(status, headers, body)
  if status == 201 then
    created = created + 1
    local s = body:match('"serial_number"%%s*:%%s*"([^"]*)"')
    if s then serials[#serials + 1] = s end
  end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write("CREATED " .. t:get("created") .. "\\n")
    for _, s in ipairs(t:get("serials")) do io.write("SERIAL " .. s .. "\\n") end
  end
end
""" % SERIAL_BODY


def wrk(url: str, headers: list[str], concurrency: int, seconds: int,
        script: str | None = None) -> dict:
    cmd = ["wrk", f"-t{min(concurrency, 2)}", f"-c{concurrency}", f"-d{seconds}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps or "50%" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: (.*)", out)
    transfer = re.search(r"Transfer/sec:\s+(\S+)", out)
    return {"rps": float(rps.group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
            "errors": int(errors.group(1)) if errors else 0,
            "socket": socket.group(1).strip() if socket else "",
            "transfer": transfer.group(1) if transfer else "",
            "created": sum(int(n) for n in re.findall(r"^CREATED (\d+)$", out, re.M)),
            "serials": re.findall(r"^SERIAL (.*)$", out, re.M)}


# --- where the CPU goes: CPU seconds per process during a run (from /proc) ---



def watched(stack: Stack) -> dict[str, list[int]]:
    groups = {}
    for name, proc in stack.procs.items():
        label = "gateway" if name == "gateway" else name.rsplit("-", 1)[0]
        groups.setdefault(label, []).extend([proc.pid, *children(proc.pid)])
    beam = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    groups["rabbitmq"] = [int(p) for p in beam.split()]
    return groups


def cpu_snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    return {label: sum(cpu_seconds(p) for p in pids) for label, pids in groups.items()}


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_total() -> float:
    """Whole-machine busy CPU seconds (all processes, ours and anyone else's)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


# --- serial-number event log ---

def events_count(base: str, headers: dict) -> int:
    return requests.get(f"{base}/api/events/", headers=headers, timeout=30,
                        params={"type": EVENT_TYPE, "limit": 1}).json()["count"]


def settled_count(base: str, headers: dict, wait: float = 15.0) -> int:
    """The event count once the audit service has caught up (unchanged for 1.5 s)."""
    time.sleep(1.5)
    last, deadline = events_count(base, headers), time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = events_count(base, headers)
        if now == last:
            break
        last = now
    return last


def all_event_serials(base: str, headers: dict) -> list[str]:
    serials, url = [], f"{base}/api/events/?type={EVENT_TYPE}&limit=1000"
    while url:
        page = requests.get(url, headers=headers, timeout=60).json()
        for event in page["results"]:
            serials.extend(event["payload"]["serials"])
        url = page["next"]
    return serials


def thread_check(base: str, token: str, threads: int = 16, per_thread: int = 50) -> dict:
    answers, failures, lock = [], [], threading.Lock()

    def worker():
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            for _ in range(per_thread):
                r = session.post(f"{base}/api/generate/serial-number/", timeout=30,
                                 data=SERIAL_BODY, headers={"Content-Type": "application/json"})
                with lock:
                    if r.status_code == 201:
                        answers.append(r.json()["serial_number"])
                    else:
                        failures.append(r.status_code)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"answers": answers, "failures": failures, "seconds": time.monotonic() - started}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--postgres", metavar="ADMIN_URL", nargs="?",
                        const="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="run every service on fresh PostgreSQL databases instead of SQLite")
    args = parser.parse_args()
    store = "PostgreSQL" if args.postgres else "SQLite"
    with ExitStack() as resources:
        databases = (resources.enter_context(postgres_databases(args.postgres, service_names()))
                     if args.postgres else {})
        run(args, databases, store)


def run(args, databases: dict, store: str):
    lua = Path(tempfile.mkdtemp(prefix="bench-system-")) / "serial.lua"
    lua.write_text(SERIAL_LUA)
    load_before = os.getloadavg()
    rows, checks, notes = [], [], {}
    with bench_stack("bench-system", 8110, databases) as (stack, token, _):
        base = stack.url
        staff = {"Authorization": f"Token {token}"}

        first = requests.get(f"{base}/api/icons/", timeout=30)  # requests sends gzip itself
        first.raise_for_status()
        etag = first.headers["ETag"]
        gz = requests.get(f"{base}/api/icons/", headers={"Accept-Encoding": "gzip"},
                          timeout=30, stream=True)
        plain = requests.get(f"{base}/api/icons/", headers={"Accept-Encoding": "identity"},
                             timeout=30)
        cond = requests.get(f"{base}/api/icons/", headers={"If-None-Match": etag}, timeout=30)
        assert gz.headers.get("Content-Encoding") == "gzip", gz.headers
        assert cond.status_code == 304, cond.status_code
        notes.update(etag=etag, gzip_bytes=int(gz.headers["Content-Length"]),
                     plain_bytes=len(plain.content), packs=len(plain.json()),
                     icons=sum(len(p["icons"]) for p in plain.json()))

        scenarios = [
            ("GET /api/icons/ (If-None-Match → 304)", "/api/icons/",
             [f"If-None-Match: {etag}"], None, 3000),
            ("GET /api/icons/ (Accept-Encoding: gzip)", "/api/icons/",
             ["Accept-Encoding: gzip"], None, 100),
            ("GET /api/icons/ (plain, no Accept-Encoding)", "/api/icons/", [], None, 100),
            ("POST /api/generate/serial-number/", "/api/generate/serial-number/",
             [f"Authorization: Token {token}"], str(lua), 500),
        ]
        wrk_serials, serial_rows = [], []
        for title, path, headers, script, target in scenarios:
            warm = wrk(base + path, headers, 4, 2, script)  # warm every worker and connection
            wrk_serials += warm["serials"]
            for concurrency in (1, 16):
                is_serial = script is not None
                before = settled_count(base, staff) if is_serial else 0
                groups = watched(stack)
                cpu0, busy0, wrk0 = cpu_snapshot(groups), busy_total(), children_cpu()
                t0 = time.monotonic()
                r = wrk(base + path, headers, concurrency, args.seconds, script)
                elapsed = time.monotonic() - t0
                cpu1, busy1 = cpu_snapshot(groups), busy_total()
                r["cpu"] = {k: (cpu1[k] - cpu0[k]) / elapsed for k in cpu0}
                r["cpu"]["wrk"] = (children_cpu() - wrk0) / elapsed
                r["cpu"]["machine (all)"] = (busy1 - busy0) / elapsed
                r["cpu"]["other work"] = max(0.0, r["cpu"]["machine (all)"] - sum(
                    v for k, v in r["cpu"].items() if k != "machine (all)"))
                if is_serial:
                    r["events"] = settled_count(base, staff) - before
                    wrk_serials += r["serials"]
                    serial_rows.append(r)
                rows.append((title, concurrency, r, target if concurrency == 16 else None))
                extra = (f"  201s {r['created']}  events {r['events']}"
                         if is_serial else "")
                print(f"{title:46} c={concurrency:<3} {r['rps']:8.0f} req/s  "
                      f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                      f"non-2xx/3xx {r['errors']}  {r['transfer']}/s{extra}", flush=True)

        # duplicate checks
        settled_count(base, staff)
        events_after_wrk = all_event_serials(base, staff)
        threads = thread_check(base, token)
        total_events = settled_count(base, staff)
        every = all_event_serials(base, staff)
        checks = [
            ("wrk: serials received are distinct",
             len(wrk_serials) == len(set(wrk_serials)),
             f"{len(wrk_serials)} serials received, {len(set(wrk_serials))} distinct"),
            ("wrk: every 201 carried a serial",
             sum(r["created"] for r in serial_rows) == sum(len(r["serials"]) for r in serial_rows),
             f"{sum(r['created'] for r in serial_rows)} 201s in the measured rows"),
            ("events (after wrk): all serials distinct",
             len(events_after_wrk) == len(set(events_after_wrk)),
             f"{len(events_after_wrk)} serials in events, {len(set(events_after_wrk))} distinct"),
            ("events (after wrk): every serial wrk received is in the log",
             set(wrk_serials) <= set(events_after_wrk),
             f"{len(set(wrk_serials) - set(events_after_wrk))} missing"),
        ]
        for (_title, concurrency, r, _) in rows:
            if "events" in r:
                wrk_ok = r["requests"] - r["errors"]
                extra = r["events"] - r["created"]
                checks.append((
                    f"events = wrk 201s (c={concurrency})",
                    r["created"] == wrk_ok and 0 <= extra <= concurrency,
                    f"wrk: {r['requests']} requests − {r['errors']} non-2xx = {wrk_ok}; "
                    f"Lua saw {r['created']} 201s; audit log gained {r['events']} events"
                    + (f" (+{extra}: requests in flight when wrk stopped, answered by the "
                       "server but not counted by wrk)" if extra > 0 else "")))
        answers = threads["answers"]
        checks += [
            ("threads: 16 × 50 all answered 201", not threads["failures"] and len(answers) == 800,
             f"{len(answers)} answers, failures {threads['failures'][:5]}, "
             f"{len(answers) / threads['seconds']:.0f} req/s"),
            ("threads: all serial_number answers distinct", len(answers) == len(set(answers)),
             f"{len(set(answers))} distinct"),
            ("threads: disjoint from earlier serials", not set(answers) & set(events_after_wrk),
             f"{len(set(answers) & set(events_after_wrk))} overlap"),
            ("events (final): all serials distinct, count = event count",
             len(every) == len(set(every)) == total_events,
             f"{len(every)} serials, {len(set(every))} distinct, {total_events} events"),
        ]
        for name, ok, detail in checks:
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
    shutil.rmtree(lua.parent, ignore_errors=True)

    load = ", ".join(f"{x:.2f}" for x in load_before)
    lines = [f"# System endpoints benchmark, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"{os.cpu_count()} cores (load average {load} before start, other work on the "
             "machine included); whole stack local: 2 gunicorn gthread workers (8 threads "
             f"each), one process per service, {store}, RabbitMQ in its own vhost; wrk with 2 "
             f"threads (1 at c=1), {args.seconds} s per row after a 2 s warm-up at c=4.", "",
             "What each row sends:", "",
             f"- icons 304: `GET /api/icons/`, no auth, `If-None-Match: {notes['etag']}` "
             "(the ETag of a first GET); the answer is a bodyless 304.",
             f"- icons gzip: `Accept-Encoding: gzip`; answer {notes['gzip_bytes']:,} bytes "
             f"gzipped JSON ({notes['packs']} icon pack(s), {notes['icons']:,} icons).",
             f"- icons plain: no `Accept-Encoding`; answer {notes['plain_bytes']:,} bytes JSON.",
             "- serial-number: `POST /api/generate/serial-number/`, `Authorization: Token …` "
             f"(admin, from `GET /api/user/token/`), body `{SERIAL_BODY}`; answer 201 "
             f"`{{\"serial_number\": …}}`; each reservation is a {store} write transaction that "
             f"appends one `{EVENT_TYPE}` event; the system service's relay publishes the "
             "events (broker-confirmed) in batches within milliseconds of the commits, and "
             "the audit service consumes them.", "",
             "| endpoint | concurrency | req/s | p50 ms | p99 ms | non-2xx/3xx | transfer/s "
             "| target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for title, concurrency, r, target in rows:
        verdict = "" if target is None else (f"≥ {target}: " + ("met" if r["rps"] >= target
                                                                 else "MISSED"))
        lines.append(f"| `{title}` | {concurrency} | {r['rps']:.0f} | {r['p50']:.2f} | "
                     f"{r['p99']:.2f} | {r['errors']} | {r['transfer']} | {verdict} |")
    lines += ["", "## No duplicate serials", "", "| check | result | detail |",
              "| --- | --- | --- |"]
    lines += [f"| {name} | {'ok' if ok else 'FAILED'} | {detail} |" for name, ok, detail in checks]
    labels = list(rows[0][2]["cpu"])
    lines += ["", "## Where the CPU goes (c=16 rows)", "",
              "CPU cores busy on average during the row (1.00 = one core fully used; the "
              "machine has " f"{os.cpu_count()}). `machine (all)` is every process; `other work` "
              "is what neither the stack, RabbitMQ nor wrk used (other jobs on the machine).", "",
              "| endpoint | " + " | ".join(labels) + " |",
              "| --- |" + " --- |" * len(labels)]
    for title, concurrency, r, _ in rows:
        if concurrency == 16:
            lines.append(f"| `{title}` | " + " | ".join(f"{r['cpu'][k]:.2f}" for k in labels)
                         + " |")
    write_report("system-postgres" if databases else "system", lines)


if __name__ == "__main__":
    main()
