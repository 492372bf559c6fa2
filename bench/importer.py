"""Benchmark of the importer service: project codes imported through the HTTP API.

Starts its own stack (2 gateway workers, every service, SQLite) on port 8140 in a RabbitMQ
vhost of its own, with IMPORT_RPC_TIMEOUT raised to 600 s. For each size of `--rows`
(default 5,000, 100,000 and 1,000,000, in sequence on the same stack) it writes a CSV
`code,description` of unique codes (`B<run><k>-<i>`, a per-run prefix) to a temp file, then
times, from session creation to status 40 (target >= 2,000 rows/s; InvenTree: about 80):

  scan     POST /api/importer/session/ (multipart, model_type=projectcode)  -> 201, status 10
  parse    POST .../accept_fields/ -> 200, then poll the session until status 30
  accept   page through GET /api/importer/row/?session=&valid=true&ordering=pk&limit=10000
           (in a thread, running ahead) and POST .../accept_rows/ {"rows": [...]} in chunks
           of 5,000 pks, two calls in flight (each answers once its rows are created, or
           after 5 s: with one, the importer idles between an answer and the next call)
  tail     after the last accept_rows answer, poll until status 40

Checks completed_row_count = N and that N project codes carry the prefix. VmRSS of the
importer process is sampled every 0.25 s (target < 300 MB at 1,000,000 rows), and CPU
seconds of every process of the stack, RabbitMQ and this client at each phase boundary.
Writes bench/results/importer-<date>.md.

    .venv/bin/python bench/importer.py [--rows 5000,100000,1000000] [--accept pipelined]
                                       [--posters 2] [--port 8140]
    .venv/bin/python bench/importer.py --rows 5000            # smoke run
"""
import argparse
import logging
import os
import queue
import resource
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path

import requests

from attachments import RssSampler, log_problems
from common import ROOT, bench_stack, children, write_report
from system import busy_total, cpu_snapshot, watched

NAME = "bench-importer"
PORT = 8140
TARGET_RPS = 2000
RSS_LIMIT_MB = 300
PAGE = 10_000
CHUNK = 5_000
POLL = 0.2
DEADLINE = 3600.0
ENV = {"IMPORT_RPC_TIMEOUT": "600"}


def write_csv(path: Path, prefix: str, n: int):
    with open(path, "w", buffering=1 << 20) as f:
        f.write("code,description\n")
        for i in range(n):
            f.write(f"{prefix}{i:07d},bench row {i}\n")


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def snapshot(groups: dict) -> dict:
    return {"t": time.monotonic(), "cpu": {**cpu_snapshot(groups), "bench client": client_cpu()},
            "busy": busy_total()}


def phase_cpu(a: dict, b: dict) -> dict:
    """CPU cores busy on average between two snapshots, per process group."""
    elapsed = max(b["t"] - a["t"], 1e-9)
    cpu = {k: (b["cpu"][k] - a["cpu"][k]) / elapsed for k in a["cpu"]}
    cpu["machine (all)"] = (b["busy"] - a["busy"]) / elapsed
    cpu["other work"] = max(0.0, cpu["machine (all)"] - sum(
        v for k, v in cpu.items() if k != "machine (all)"))
    return cpu


class Monitor(threading.Thread):
    """Every 10 s: reads the session, prints progress and the busiest processes, and keeps
    (seconds, row_count, completed_row_count) for the rows/s of each 10 s window."""

    def __init__(self, url: str, headers: dict, n: int, posts: list, groups: dict):
        super().__init__(daemon=True)
        self.url, self.headers, self.n, self.posts = url, headers, n, posts
        self.groups = groups
        self.samples: list[tuple[float, int, int]] = [(0.0, 0, 0)]
        self._halt = threading.Event()

    def run(self):
        started, last = time.monotonic(), snapshot(self.groups)
        with requests.Session() as http:
            http.headers.update(self.headers)
            while not self._halt.wait(10.0):
                try:
                    found = http.get(self.url, timeout=60).json()
                except (requests.RequestException, ValueError) as exc:
                    print(f"  progress: {exc}", flush=True)
                    continue
                t = time.monotonic() - started
                rows, done = found["row_count"] or 0, found["completed_row_count"] or 0
                t0, rows0, done0 = self.samples[-1]
                self.samples.append((t, rows, done))
                now = snapshot(self.groups)
                busy = sorted(phase_cpu(last, now).items(), key=lambda kv: -kv[1])
                last = now
                print(f"  {t:5.0f} s  status {found['status']}  parsed {rows:,}/{self.n:,} "
                      f"(+{(rows - rows0) / (t - t0):.0f}/s)  complete {done:,} "
                      f"(+{(done - done0) / (t - t0):.0f}/s, {done / t:.0f} rows/s since the "
                      f"session was created)  accept calls answered {len(self.posts)}"
                      "\n         cores: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in busy if v >= 0.05), flush=True)

    def stop(self):
        self._halt.set()
        self.join()

    def windows(self, index: int) -> list[float]:
        """Rows/s per 10 s window of row_count (1) or completed_row_count (2), while it grew."""
        pairs = zip(self.samples, self.samples[1:])
        return [(b[index] - a[index]) / (b[0] - a[0]) for a, b in pairs
                if b[index] > a[index]]


def wait_status(http: requests.Session, url: str, status: int) -> dict:
    deadline = time.monotonic() + DEADLINE
    while True:
        found = http.get(url, timeout=60).json()
        if found["status"] == status:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"no status {status} after {DEADLINE:.0f} s: {found}")
        time.sleep(POLL)


def accept_all(base: str, headers: dict, pk: int, pipelined: bool, posters: int,
               posts: list) -> dict:
    """Accept every valid row of the session: pages of the (stable) valid list ordered by pk,
    POSTed to accept_rows in chunks of CHUNK pks, `posters` calls in flight. `pipelined`: a
    thread fetches every page as fast as it can while the chunks are posted; else each page
    is fetched after the previous page's chunks are answered. Appends the seconds of each
    answer to `posts`."""
    pages, answers, failed = [], {}, []
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "http"):
            local.http = requests.Session()
            local.http.headers.update(headers)
        return local.http

    def row_pages():
        offset = 0
        while True:
            t = time.monotonic()
            r = session().get(f"{base}/api/importer/row/", timeout=600, params={
                "session": pk, "valid": "true", "ordering": "pk", "limit": PAGE,
                "offset": offset})
            r.raise_for_status()
            pks = [row["pk"] for row in r.json()["results"]]
            pages.append(time.monotonic() - t)
            if not pks:
                return
            yield pks
            offset += len(pks)

    def fetch(todo: queue.Queue):
        try:
            for pks in row_pages():
                todo.put(pks)
        except Exception as exc:  # raised again by the posting side
            failed.append(exc)
        finally:
            todo.put(None)

    def post(pks: list[int]):
        t = time.monotonic()
        r = session().post(f"{base}/api/importer/session/{pk}/accept_rows/",
                           json={"rows": pks}, timeout=900)
        posts.append(time.monotonic() - t)
        answers[r.status_code] = answers.get(r.status_code, 0) + 1
        if r.status_code != 201:
            print(f"  accept_rows answered {r.status_code}: {r.text[:300]}", flush=True)

    if pipelined:  # the fetcher runs ahead: listing first was faster than interleaving
        todo: queue.Queue = queue.Queue()
        threading.Thread(target=fetch, args=(todo,), daemon=True).start()
        source = iter(todo.get, None)
    else:
        source = row_pages()
    with ThreadPoolExecutor(posters) as pool:
        running: set = set()
        for pks in source:
            for i in range(0, len(pks), CHUNK):
                while len(running) >= posters:
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()
                running.add(pool.submit(post, pks[i:i + CHUNK]))
            if not pipelined:
                for future in running:
                    future.result()
                running = set()
        for future in running:
            future.result()
    if failed:
        raise failed[0]
    return {"pages": pages, "answers": answers}


def run_size(base: str, headers: dict, groups: dict, tmp: Path, prefix: str, n: int,
             pipelined: bool, posters: int) -> dict:
    csv = tmp / f"codes-{n}.csv"
    write_csv(csv, prefix, n)
    size = csv.stat().st_size
    print(f"{n:,} rows ({size / 2**20:.1f} MB CSV), prefix {prefix}", flush=True)
    res = {"n": n, "prefix": prefix, "bytes": size, "snaps": [], "posts": []}
    snaps = res["snaps"]

    def mark(what: str):
        snaps.append(snapshot(groups))
        print(f"  {what} after {snaps[-1]['t'] - snaps[0]['t']:.1f} s", flush=True)

    with requests.Session() as http:
        http.headers.update(headers)
        snaps.append(snapshot(groups))
        with open(csv, "rb") as f:
            r = http.post(f"{base}/api/importer/session/", data={"model_type": "projectcode"},
                          files={"data_file": (csv.name, f, "text/csv")}, timeout=900)
        if r.status_code != 201:
            raise RuntimeError(f"create answered {r.status_code}: {r.text[:500]}")
        pk = r.json()["pk"]
        url = f"{base}/api/importer/session/{pk}/"
        mark(f"scan: session {pk} created, status {r.json()['status']}")
        monitor = Monitor(url, headers, n, res["posts"], groups)
        monitor.start()
        try:
            r = http.post(url + "accept_fields/", timeout=60)
            if r.status_code != 200:
                raise RuntimeError(f"accept_fields answered {r.status_code}: {r.text[:500]}")
            parsed = wait_status(http, url, 30)
            mark(f"parse: status 30, row_count {parsed['row_count']:,}")
            res["accept"] = accept_all(base, headers, pk, pipelined, posters, res["posts"])
            res["completed_at_last_post"] = http.get(url, timeout=60).json()[
                "completed_row_count"]
            mark(f"accept: {len(res['posts'])} accept_rows answered "
                 f"{res['accept']['answers']}, {res['completed_at_last_post']:,} rows complete")
            final = wait_status(http, url, 40)
            mark("tail: status 40")
        finally:
            monitor.stop()
        res["parse_windows"], res["create_windows"] = monitor.windows(1), monitor.windows(2)
        codes = http.get(f"{base}/api/project-code/", timeout=120,
                         params={"search": prefix, "limit": 1}).json()["count"]
    res["seconds"] = snaps[-1]["t"] - snaps[0]["t"]
    res["rps"] = n / res["seconds"]
    print(f"  total {res['seconds']:.1f} s = {res['rps']:.0f} rows/s", flush=True)
    answers = res["accept"]["answers"]
    res["checks"] = [
        (f"{n:,}: every accept_rows answered 201", set(answers) == {201},
         f"{answers} over {-(-n // CHUNK)} chunks expected"),
        (f"{n:,}: row_count = N", parsed["row_count"] == n, f"{parsed['row_count']:,}"),
        (f"{n:,}: completed_row_count = N", final["completed_row_count"] == n,
         f"{final['completed_row_count']:,}"),
        (f"{n:,}: project codes with the prefix = N", codes == n,
         f"`GET /api/project-code/?search={prefix}` count {codes:,}"),
    ]
    csv.unlink()
    return res


def code_version() -> str:
    """The commit the stack ran, and the files of the services that differed from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(git + ["status", "--porcelain", "--", "services", "svckit",
                                  "gateway"], capture_output=True, text=True).stdout.split()
    changed = [p for p in dirty if "/" in p]
    return f"commit {head}" + (f" with uncommitted changes in {', '.join(changed)}"
                               if changed else "")


def rate_list(windows: list[float]) -> str:
    return ", ".join(f"{w:.0f}" for w in windows) or "—"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="5000,100000,1000000",
                        help="comma-separated sizes, run in sequence on one stack")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--accept", choices=("pipelined", "sequential"), default="pipelined",
                        help="fetch row pages in a thread while posting accepts, or not")
    parser.add_argument("--posters", type=int, default=2,
                        help="accept_rows calls in flight at once")
    args = parser.parse_args()
    logging.getLogger("amqp").setLevel(logging.ERROR)  # the readiness probe's channel close
    sizes = [int(x) for x in args.rows.split(",") if x]
    run = uuid.uuid4().hex[:6]
    tmp = Path(tempfile.mkdtemp(prefix="bench-importer-"))
    load_before, version = os.getloadavg(), code_version()
    results, failures = [], []
    log_path = ROOT / "var" / NAME / "stack.log"
    with bench_stack(NAME, args.port, ENV) as (stack, token, _):
        base, headers = stack.url, {"Authorization": f"Token {token}"}
        groups = watched(stack)
        importer = stack.procs["importer-0"].pid
        extra_pids = children(importer)
        sampler = RssSampler([importer], interval=0.25)
        sampler.start()
        time.sleep(2.0)
        log_mark = len(log_path.read_text(errors="replace").splitlines())
        for k, n in enumerate(sizes):
            sampler.phase = n
            try:
                results.append(run_size(base, headers, groups, tmp, f"B{run}{k}-", n,
                                        args.accept == "pipelined", args.posters))
            except Exception as exc:  # report it and go on with the next size
                failures.append((n, f"{type(exc).__name__}: {exc}"))
                print(f"FAILED {n:,}: {exc}", flush=True)
            time.sleep(1.0)
        sampler.stop()
        problems = log_problems(log_path, log_mark)
    shutil.rmtree(tmp, ignore_errors=True)

    baseline = sampler.median("baseline", importer)
    peaks = {r["n"]: sampler.peak(r["n"], importer) for r in results}
    checks = [c for r in results for c in r["checks"]]
    checks += [(f"{n:,}: ran to the end", False, err) for n, err in failures]
    for r in results:
        ok = r["rps"] >= TARGET_RPS
        checks.append((f"{r['n']:,}: ≥ {TARGET_RPS:,} rows/s", ok, f"{r['rps']:.0f} rows/s"))
    if 1_000_000 in peaks:
        peak = peaks[1_000_000]
        checks.append(("importer RSS < 300 MB at 1,000,000 rows", peak < RSS_LIMIT_MB,
                       f"peak {peak:.1f} MB"))

    # -- the report
    load = ", ".join(f"{x:.2f}" for x in load_before)
    memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    lines = [f"# Importer benchmark, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"{os.cpu_count()} cores, {memory_gb:.0f} GB "
             f"(load average {load} before start, other work on the machine included); whole "
             "stack local: 2 gunicorn gthread workers (8 threads each), one process per service, "
             "SQLite (WAL), RabbitMQ in its own vhost; IMPORT_RPC_TIMEOUT=600, other settings "
             "default (IMPORT_BATCH_ROWS 1000, IMPORT_ACCEPT_WAIT_SECONDS 5, RPC_TIMEOUT 10). "
             f"Sizes run in sequence on one stack: {', '.join(f'{n:,}' for n in sizes)}. "
             f"Code: {version} (at the stack's start).", "",
             "Each size: a CSV `code,description` (`B<run><k>-<i:07d>`, `bench row <i>`) "
             "uploaded by requests (multipart, read from a temp file), model_type "
             "`projectcode`; columns mapped automatically by name. Phases:", "",
             "- **scan**: `POST /api/importer/session/` → 201 status 10 (upload + the service "
             "scans the whole file before answering).",
             "- **parse**: `POST …/accept_fields/` → 200, then `GET` the session every "
             f"{POLL} s until status 30 (rows parsed and validated by the system service).",
             f"- **accept**: page `GET /api/importer/row/?session=…&valid=true&ordering=pk"
             f"&limit={PAGE:,}&offset=k` and `POST …/accept_rows/` with {CHUNK:,} pks per call "
             f"({args.accept}: " + ("a thread fetches every page as fast as it can while "
                                    "the chunks are posted" if
                                    args.accept == "pipelined" else
                                    "each page fetched after the previous page's chunks are "
                                    "answered") + f"; {args.posters} accept_rows call(s) in "
             "flight at once). Each call waits up to 5 s for its rows, then answers while "
             "creation goes "
             "on; rows are created in the background all through this phase.",
             "- **tail**: after the last accept_rows answer, poll until status 40.", "",
             "Total = seconds from the session POST to status 40; rows/s = N / total. "
             f"Target ≥ {TARGET_RPS:,} rows/s (InvenTree: about 80).", "",
             "| rows | CSV MB | scan s | parse s | accept s | tail s | accept+create s | "
             "total s | rows/s | target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        t = [b["t"] - a["t"] for a, b in zip(r["snaps"], r["snaps"][1:])]
        lines.append(f"| {r['n']:,} | {r['bytes'] / 2**20:.1f} | {t[0]:.1f} | {t[1]:.1f} | "
                     f"{t[2]:.1f} | {t[3]:.1f} | {t[2] + t[3]:.1f} | **{r['seconds']:.1f}** | "
                     f"**{r['rps']:.0f}** | " + ("met" if r["rps"] >= TARGET_RPS else "MISSED")
                     + " |")
    for n, err in failures:
        lines.append(f"| {n:,} | | | | | | | FAILED | | {err[:120]} |")
    lines += ["", "Details per size:", ""]
    for r in results:
        pages, posts = r["accept"]["pages"], r["posts"]
        lines.append(
            f"- {r['n']:,}: {len(pages)} row pages (mean {sum(pages) / len(pages):.2f} s, max "
            f"{max(pages):.2f} s); {len(posts)} accept_rows calls (mean "
            f"{sum(posts) / max(1, len(posts)):.2f} s, max {max(posts, default=0):.2f} s); "
            f"{r['completed_at_last_post']:,} rows complete at the last accept_rows answer. "
            f"Rows/s per 10 s window — parsed: {rate_list(r['parse_windows'])}; created: "
            f"{rate_list(r['create_windows'])}.")
    lines += ["", "## Importer memory", "",
              f"VmRSS of the importer process (pid {importer}"
              + (f", children {extra_pids}" if extra_pids else ", no child processes")
              + f") sampled every 0.25 s; MB = 2^20 bytes. Baseline (median over 2 s before the "
              f"first size): {baseline:.1f} MB. Target: < {RSS_LIMIT_MB} MB at 1,000,000 rows.",
              "", "| rows | peak RSS MB | rise over baseline | samples |",
              "| --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['n']:,} | {peaks[r['n']]:.1f} | {peaks[r['n']] - baseline:+.1f} | "
                     f"{sampler.count(r['n'])} |")
    lines += ["", "## Checks", "", "| check | result | detail |", "| --- | --- | --- |"]
    lines += [f"| {name} | {'ok' if ok else 'FAILED'} | {detail} |" for name, ok, detail in checks]
    lines += ["", f"stack.log: {len(problems)} error/traceback lines during the runs"
              + (":" if problems else "."), ""]
    lines += [f"    {p}" for p in problems[:30]]
    if results:
        labels = list(phase_cpu(results[0]["snaps"][0], results[0]["snaps"][1]))
        lines += ["", "## Where the CPU goes", "",
                  "CPU cores busy on average during each phase (phases under 0.5 s left out; "
                  "1.00 = one core fully used; the "
                  f"machine has {os.cpu_count()}). `bench client` is this script (uploads, "
                  "paging, polling); `machine (all)` is every process; `other work` is what "
                  "neither the stack, RabbitMQ nor the client used.", "",
                  "| rows | phase | s | " + " | ".join(labels) + " |",
                  "| --- | --- | --- |" + " --- |" * len(labels)]
        for r in results:
            s = r["snaps"]
            for name, a, b in [("scan", s[0], s[1]), ("parse", s[1], s[2]),
                               ("accept", s[2], s[3]), ("tail", s[3], s[4]),
                               ("**total**", s[0], s[4])]:
                if b["t"] - a["t"] < 0.5:
                    continue  # too short to say anything
                cpu = phase_cpu(a, b)
                lines.append(f"| {r['n']:,} | {name} | {b['t'] - a['t']:.1f} | "
                             + " | ".join(f"{cpu[k]:.2f}" for k in labels) + " |")
        lines += ["", "CPU seconds per 1,000 rows over the whole import:", "",
                  "| rows | " + " | ".join(labels[:-2]) + " |",
                  "| --- |" + " --- |" * (len(labels) - 2)]
        for r in results:
            a, b = r["snaps"][0], r["snaps"][-1]
            lines.append(f"| {r['n']:,} | " + " | ".join(
                f"{(b['cpu'][k] - a['cpu'][k]) * 1000 / r['n']:.2f}" for k in labels[:-2])
                + " |")
    write_report("importer", lines)


if __name__ == "__main__":
    main()
