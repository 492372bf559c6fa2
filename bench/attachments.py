"""Load benchmark of the attachments service through the gateway.

Starts its own stack (2 gateway workers, every service, SQLite) on port 8130 in a RabbitMQ
vhost of its own, with ATTACHMENT_MAX_BYTES raised for the big file. Between the migration
and the start of the services it seeds `--rows` link attachments by appending
`attachment.linked` events through the service's own EventStore (the projector fills the
tables in the same transaction, exactly as the service's writes do). Then, with wrk:

  GET /api/attachment/?limit=50                      (target >= 1,000 req/s at c16)
  GET /api/attachment/?model_type=part&model_id=N    (target >= 1,000 req/s at c16, 50 Ns)
  GET /api/attachment/<pk>/                          (target >= 700 req/s at c16, 200 pks)

each twice: as a client normally asks (answered from the gateway workers' read models once
warm) and with `Cache-Control: no-cache` (every request goes to the service). Then 1 MB
multipart uploads at c8 with wrk (target >= 50 MB/s), checking that the rows created equal
the 201s; then one `--big-mb` file (500 MB) is uploaded and downloaded while the RSS of
every gateway worker is sampled every 50 ms (target: flat). Writes
bench/results/attachments-<date>.md.

    .venv/bin/python bench/attachments.py [--rows 100000] [--seconds 10] [--big-mb 500]
    .venv/bin/python bench/attachments.py --rows 2000 --seconds 3 --big-mb 50   # smoke run
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

import requests

from common import ADMIN, ROOT, bench_stack, children, write_report
from system import busy_total, children_cpu, cpu_snapshot, watched, wrk

MB = 1024 * 1024
PORT = 8130
NAME = "bench-attachments"
# 16 slots: half `part`, then each other model type once (so `part` is "most")
TYPE_CYCLE = ["part"] * 8 + ["build", "company", "manufacturerpart", "purchaseorder",
                             "salesorder", "salesordershipment", "returnorder", "stockitem"]
BOUNDARY = "----benchAttachmentsBoundary7MA4YWxkTrZu0gW"
UPLOAD_IDS = 50  # model_id 1..50 for the 1 MB uploads

ROTATE_LUA = """
local paths = {%s}
local i = 0
local threads = 0
function setup(thread) thread:set("offset", threads * 37); threads = threads + 1 end
function init(args) i = offset end
function request()
  i = i %% #paths + 1
  return wrk.format(nil, paths[i])
end
"""

UPLOAD_LUA = """
local blob_path = "%(blob)s"
local headers = {["Authorization"] = "Token %(token)s",
                 ["Content-Type"] = "multipart/form-data; boundary=%(boundary)s"}
local reqs = {}
local n = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
local function field(name, value)
  return "--%(boundary)s\\r\\nContent-Disposition: form-data; name=\\"" .. name ..
         "\\"\\r\\n\\r\\n" .. value .. "\\r\\n"
end
function init(args)
  created = 0
  local f = assert(io.open(blob_path, "rb"))
  local blob = f:read("*a")
  f:close()
  for id = 1, %(ids)d do
    local body = field("model_type", "part") .. field("model_id", tostring(id)) ..
      field("comment", "bench upload") ..
      "--%(boundary)s\\r\\nContent-Disposition: form-data; name=\\"attachment\\"; " ..
      "filename=\\"bench-1mb.bin\\"\\r\\nContent-Type: application/octet-stream\\r\\n\\r\\n" ..
      blob .. "\\r\\n--%(boundary)s--\\r\\n"
    reqs[id] = wrk.format("POST", "/api/attachment/", headers, body)
  end
  n = math.random(#reqs)
end
function request()
  n = n %% #reqs + 1
  return reqs[n]
end
function response(status, headers, body)
  if status == 201 then created = created + 1 end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do io.write("CREATED " .. t:get("created") .. "\\n") end
end
"""


# --- seeding through the service's own event store ---

def seed_rows(db_url: str, rows: int, ids: int, batch: int, mark_published: bool) -> dict:
    """Append `rows` attachment.linked events (and their projections), `batch` per write
    transaction (one executemany of events each). With `mark_published` the events are
    linked into the log's hash chain and marked published in the same transaction (history
    the relay already sent, which it links before it publishes), so the services do not
    start by publishing them all, nor the relay by linking them a batch per pass, and the
    audit service by recording them all."""
    from sqlalchemy import update

    from services.attachments.models import metadata, store
    from svckit import chainlog
    from svckit.context import Caller
    from svckit.db import Database
    from svckit.events import utcnow

    db = Database(db_url, metadata)
    today = date.today().isoformat()
    started = time.monotonic()
    caller = Caller(user_id=1, username=ADMIN[0], is_staff=True, is_superuser=True)
    try:
        for first in range(0, rows, batch):
            numbers = range(first, min(first + batch, rows))
            payloads = [{"model_type": TYPE_CYCLE[n % len(TYPE_CYCLE)],
                         "model_id": 1 + (n * 7919) % ids, "comment": f"seeded link {n}",
                         "link": f"https://example.com/{n}", "tags": [],
                         "upload_date": today, "upload_user": 1, "metadata": {}}
                        for n in numbers]
            with db.write(notify=False) as s:
                pks = store.next_stream_ids(s, "attachment", len(payloads))
                store.record_new_streams(s, "attachment", pks, "attachment.linked", payloads,
                                         caller)
                if mark_published:
                    chainlog.chain_pending(store, s)
                    events = store.events
                    s.execute(update(events).where(
                        events.c.stream_type == "attachment",
                        events.c.stream_id.in_([str(pk) for pk in pks])).values(
                            published=utcnow()))
    finally:
        db.dispose()
    return {"seconds": time.monotonic() - started, "rows": rows, "ids": ids}


def unpublished(db_url: str) -> int:
    from sqlalchemy import func, select

    from services.attachments.models import metadata, store
    from svckit.db import Database
    db = Database(db_url, metadata)
    try:
        with db.read() as s:
            return s.execute(select(func.count()).select_from(store.events).where(
                store.events.c.published.is_(None))).scalar_one()
    finally:
        db.dispose()


def wait_seed_published(base: str, headers: dict, db_url: str, rows: int,
                        limit: float = 1800) -> float:
    """Until the relay has published every seeded event and the audit service has recorded
    them; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if unpublished(db_url) == 0:
            recorded = requests.get(f"{base}/api/events/", headers=headers, timeout=60,
                                    params={"service": "attachments", "limit": 1}).json()
            if recorded["count"] >= rows:
                return time.monotonic() - started
        time.sleep(2)
    raise RuntimeError(f"seeded events not published and recorded after {limit} s")


# --- measuring ---

def lua_file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def rotate_script(tmp: Path, name: str, paths: list[str]) -> str:
    return lua_file(tmp, name, ROTATE_LUA % ", ".join(json.dumps(p) for p in paths))


def measure(stack, base: str, path: str, headers: list[str], concurrency: int, seconds: int,
            script: str | None, warmup: bool = True, until_idle: str | None = None) -> dict:
    """wrk for `seconds` (after a 2 s warm-up at c=4), with the CPU each process used.
    With `until_idle`, the warm-up is repeated (up to 8 times) until that group of processes
    stays nearly idle through one (< 0.05 cores): the read models of every gateway worker
    are then full, since each miss costs the service a call."""
    groups = watched(stack)
    rounds = 0
    while warmup and rounds < 8:
        before, t0 = cpu_snapshot(groups), time.monotonic()
        wrk(base + path, headers, 4, 2, script)
        rounds += 1
        busy = (cpu_snapshot(groups)[until_idle] - before[until_idle]) / (
            time.monotonic() - t0) if until_idle else 0.0
        if busy < 0.05:
            break
    cpu0, busy0, wrk0 = cpu_snapshot(groups), busy_total(), children_cpu()
    t0 = time.monotonic()
    r = wrk(base + path, headers, concurrency, seconds, script)
    elapsed = time.monotonic() - t0
    cpu1, busy1 = cpu_snapshot(groups), busy_total()
    r["elapsed"] = elapsed
    r["warmups"] = rounds
    r["cpu"] = {k: (cpu1[k] - cpu0[k]) / elapsed for k in cpu0}
    r["cpu"]["wrk"] = (children_cpu() - wrk0) / elapsed
    r["cpu"]["machine (all)"] = (busy1 - busy0) / elapsed
    r["cpu"]["other work"] = max(0.0, r["cpu"]["machine (all)"] - sum(
        v for k, v in r["cpu"].items() if k != "machine (all)"))
    return r


def attachment_count(base: str, headers: dict) -> int:
    return requests.get(f"{base}/api/attachment/", timeout=60, params={"limit": 1},
                        headers={**headers, "Cache-Control": "no-cache"}).json()["count"]


def settled_count(base: str, headers: dict, wait: float = 15.0) -> int:
    """The attachment count once it stays unchanged for 1 s (requests in flight done)."""
    last, deadline = attachment_count(base, headers), time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = attachment_count(base, headers)
        if now == last:
            break
        last = now
    return last


def log_problems(path: Path, start: int = 0) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()[start:]
    # what was logged, the start of each traceback, and the exception that ends it
    return [ln for ln in lines
            if re.search(r"^(unhandled error|Traceback)|ERROR|CRITICAL", ln)
            or re.match(r"[A-Za-z_][\w.]*(Error|Exception|Failure|Timeout)\b", ln)]


# --- the big file: streamed multipart upload and download, gateway RSS sampled ---

def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Samples VmRSS of `pids` every `interval` s; keeps the peak and the samples of each
    phase (the phase is whatever `self.phase` holds when the sample is taken)."""

    def __init__(self, pids: list[int], interval: float = 0.05):
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.phase = "baseline"
        self.samples: dict[str, dict[int, list[float]]] = {}
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            phase = self.phase
            for pid in self.pids:
                value = rss_mb(pid)
                if value is not None:
                    self.samples.setdefault(phase, {}).setdefault(pid, []).append(value)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()

    def peak(self, phase: str, pid: int) -> float:
        return max(self.samples.get(phase, {}).get(pid, [float("nan")]))

    def median(self, phase: str, pid: int) -> float:
        return statistics.median(self.samples.get(phase, {}).get(pid, [float("nan")]))

    def count(self, phase: str) -> int:
        return max((len(v) for v in self.samples.get(phase, {}).values()), default=0)


def big_upload(base: str, token: str, size_mb: int) -> dict:
    """POST one `size_mb` MB file as multipart, streamed from a generator (1 MB chunks, each
    different) with http.client: the client never holds more than one chunk."""
    block = os.urandom(MB)
    digest = hashlib.sha256()

    def field(name, value):
        return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()

    preamble = (field("model_type", "part") + field("model_id", "1")
                + field("comment", f"bench {size_mb} MB file")
                + (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachment\"; "
                   f"filename=\"bench-big-{size_mb}mb.bin\"\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n").encode())
    closing = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks():
        for i in range(size_mb):
            chunk = i.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            yield chunk

    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    started = time.monotonic()
    conn.putrequest("POST", "/api/attachment/")
    conn.putheader("Authorization", f"Token {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(len(preamble) + size_mb * MB + len(closing)))
    conn.endheaders()
    conn.send(preamble)
    for chunk in chunks():
        conn.send(chunk)
    conn.send(closing)
    resp = conn.getresponse()
    body = resp.read()
    seconds = time.monotonic() - started
    conn.close()
    if resp.status != 201:
        raise RuntimeError(f"big upload answered {resp.status}: {body[:500]!r}")
    return {"answer": json.loads(body), "sha256": digest.hexdigest(), "seconds": seconds,
            "bytes": size_mb * MB}


def big_download(base: str, token: str, url: str) -> dict:
    digest, size = hashlib.sha256(), 0
    started = time.monotonic()
    with requests.get(base + url, headers={"Authorization": f"Token {token}"}, stream=True,
                      timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_content(MB):
            digest.update(chunk)
            size += len(chunk)
        etag = r.headers.get("ETag", "")
    return {"sha256": digest.hexdigest(), "bytes": size, "etag": etag,
            "seconds": time.monotonic() - started}


# --- the run ---

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="attachment rows to seed")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk row")
    parser.add_argument("--big-mb", type=int, default=500, help="size of the big file (MB)")
    parser.add_argument("--batch", type=int, default=5000, help="seeded rows per transaction")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--publish-seed", action="store_true",
                        help="leave the seeded events unpublished: the relay publishes them "
                             "at start and the audit service records them; waits for both")
    args = parser.parse_args()
    ids = max(UPLOAD_IDS, args.rows // 10)  # ~5 `part` rows per model_id
    tmp = Path(tempfile.mkdtemp(prefix="bench-attachments-"))
    max_bytes = max(600, args.big_mb + 100) * MB
    load_before = os.getloadavg()
    db_url = {}

    def seed(stack):
        db_url["url"] = stack.run_tool(
            "-c", "from services.attachments.settings import AttachmentsSettings; "
            "print(AttachmentsSettings().database_url('attachments'))")
        print(f"seeding {args.rows:,} rows into {db_url['url']} ...", flush=True)
        result = seed_rows(db_url["url"], args.rows, ids, args.batch,
                           mark_published=not args.publish_seed)
        print(f"seeded {args.rows:,} rows in {result['seconds']:.1f} s "
              f"({args.rows / result['seconds']:.0f} rows/s)", flush=True)
        return result

    reads, checks, notes = [], [], {}
    with bench_stack(NAME, args.port, {"ATTACHMENT_MAX_BYTES": str(max_bytes)},
                      seed) as (stack, token, seeded):
        base = stack.url
        auth = {"Authorization": f"Token {token}"}
        log_path = ROOT / "var" / NAME / "stack.log"
        if args.publish_seed:
            waited = wait_seed_published(base, auth, db_url["url"], args.rows)
            notes["publish_wait"] = waited
            print(f"relay published and audit recorded the seed in {waited:.1f} s", flush=True)
        workers = children(stack.procs["gateway"].pid)
        notes["workers"] = len(workers)

        # -- sanity: the seed as the API sees it
        total = attachment_count(base, auth)
        checks.append(("API count = seeded rows", total == args.rows,
                       f"`count` {total:,}, seeded {args.rows:,}"))
        filter_ids = [1 + k * (ids // 50) for k in range(50)]
        filter_paths = [f"/api/attachment/?model_type=part&model_id={n}" for n in filter_ids]
        sizes = []
        for p in filter_paths:
            answer = requests.get(base + p, headers=auth, timeout=30).json()
            sizes.append(len(answer if isinstance(answer, list) else answer["results"]))
        notes["filter_rows"] = (min(sizes), statistics.mean(sizes), max(sizes))
        detail_pks = [1 + k * max(1, args.rows // 200) for k in range(200)]
        detail_paths = [f"/api/attachment/{pk}/" for pk in detail_pks if pk <= args.rows]
        first = requests.get(base + detail_paths[0], headers=auth, timeout=30)
        checks.append(("detail answers 200", first.status_code == 200,
                       f"`GET {detail_paths[0]}` → {first.status_code}"))
        page = requests.get(base + "/api/attachment/?limit=50", headers=auth, timeout=30)
        notes["list_bytes"] = len(page.content)
        notes["detail_bytes"] = len(first.content)
        notes["filter_bytes"] = len(requests.get(base + filter_paths[0], headers=auth,
                                                 timeout=30).content)
        print(f"filter rows per model_id: min {min(sizes)} mean {statistics.mean(sizes):.1f} "
              f"max {max(sizes)}", flush=True)

        # -- reads
        scenarios = [
            ("GET ?limit=50", "/api/attachment/?limit=50", None, 1000),
            ("GET ?model_type=part&model_id=N", "/api/attachment/",
             rotate_script(tmp, "filter.lua", filter_paths), 1000),
            ("GET <pk>/ (detail)", "/api/attachment/", rotate_script(
                tmp, "detail.lua", detail_paths), 700),
        ]
        log_mark = len(log_path.read_text(errors="replace").splitlines())
        for mode, extra in (("warm", []), ("no-cache", ["Cache-Control: no-cache"])):
            for title, path, script, target in scenarios:
                r = measure(stack, base, path, [f"Authorization: Token {token}", *extra], 16,
                            args.seconds, script,
                            until_idle="attachments" if mode == "warm" else None)
                reads.append((title, mode, r, target))
                print(f"{title:34} {mode:9} {r['rps']:8.0f} req/s  p50 {r['p50']:7.2f} ms  "
                      f"p99 {r['p99']:7.2f} ms  non-2xx/3xx {r['errors']}  "
                      f"{r['socket'] or ''} (warm-ups: {r['warmups']})", flush=True)

        # -- 1 MB uploads
        blob = tmp / "blob-1mb.bin"
        blob.write_bytes(os.urandom(MB))
        upload_lua = lua_file(tmp, "upload.lua", UPLOAD_LUA % {
            "blob": blob, "token": token, "boundary": BOUNDARY, "ids": UPLOAD_IDS})
        wrk(base + "/api/attachment/", [], 4, 2, upload_lua)  # warm-up, not counted
        before = settled_count(base, auth)
        up = measure(stack, base, "/api/attachment/", [], 8, args.seconds, upload_lua,
                     warmup=False)
        after = settled_count(base, auth)
        gained = after - before
        up["mbps"] = up["created"] * MB / MB / up["elapsed"]
        up["ups"] = up["created"] / up["elapsed"]
        print(f"uploads 1 MB c=8: {up['ups']:.1f}/s  {up['mbps']:.1f} MB/s  p50 "
              f"{up['p50']:.1f} ms  p99 {up['p99']:.1f} ms  non-2xx {up['errors']}  "
              f"201s {up['created']}  rows gained {gained}", flush=True)
        wrk_ok = up["requests"] - up["errors"]
        extra = gained - up["created"]
        checks += [
            ("uploads: every answered request was a 201",
             up["created"] == wrk_ok and up["errors"] == 0,
             f"wrk: {up['requests']} requests − {up['errors']} non-2xx = {wrk_ok}; "
             f"Lua saw {up['created']} 201s"),
            ("uploads: rows created = 201s", 0 <= extra <= 8,
             f"`count` {before:,} → {after:,} (+{gained}); 201s {up['created']}"
             + (f" (+{extra}: requests in flight when wrk stopped, answered by the server "
                "but not counted by wrk)" if extra > 0 else "")),
        ]

        # -- the big file
        sampler = RssSampler(workers)
        sampler.start()
        time.sleep(1.0)
        sampler.phase = "upload"
        print(f"uploading {args.big_mb} MB ...", flush=True)
        big = big_upload(base, token, args.big_mb)
        sampler.phase = "between"
        time.sleep(0.5)
        sampler.phase = "download"
        print("downloading ...", flush=True)
        down = big_download(base, token, big["answer"]["attachment"])
        sampler.phase = "after"
        time.sleep(1.0)
        sampler.stop()
        memory = []
        for pid in workers:
            baseline = sampler.median("baseline", pid)
            memory.append((pid, baseline, sampler.peak("upload", pid),
                           sampler.peak("download", pid), sampler.median("after", pid)))
        checks += [
            ("big file: download sha256 = upload sha256", down["sha256"] == big["sha256"],
             f"{big['sha256'][:16]}… vs {down['sha256'][:16]}…"),
            ("big file: stored size and sha256 as sent",
             big["answer"]["file_size"] == big["bytes"] == down["bytes"]
             and down["etag"].strip('"') == big["sha256"],
             f"file_size {big['answer']['file_size']:,}, downloaded {down['bytes']:,} bytes, "
             f"ETag {down['etag'][:18]}…"),
        ]
        notes["big"] = big
        notes["down"] = down
        notes["samples"] = {ph: sampler.count(ph) for ph in ("baseline", "upload", "download")}
        problems = log_problems(log_path, log_mark)
        notes["log_problems"] = problems
        for pid, b, u, d, a in memory:
            print(f"gateway worker {pid}: RSS baseline {b:.1f} MB, peak upload {u:.1f} MB, "
                  f"peak download {d:.1f} MB, after {a:.1f} MB", flush=True)
        print(f"big upload {big['bytes'] / MB / big['seconds']:.1f} MB/s, download "
              f"{down['bytes'] / MB / down['seconds']:.1f} MB/s", flush=True)
        for name, ok, detail in checks:
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if problems:
            print(f"{len(problems)} problem lines in {log_path}:", *problems[:20], sep="\n")
    shutil.rmtree(tmp, ignore_errors=True)

    # -- the report
    load = ", ".join(f"{x:.2f}" for x in load_before)
    fmin, fmean, fmax = notes["filter_rows"]
    lines = [f"# Attachments benchmark, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"{os.cpu_count()} cores (load average {load} before start, other work on the "
             f"machine included); whole stack local: {notes['workers']} gunicorn gthread "
             "workers (8 threads each), one process per service, SQLite (WAL), RabbitMQ in "
             "its own vhost; wrk with 2 threads, "
             f"{args.seconds} s per row after a 2 s warm-up at c=4; reads at c=16, uploads at "
             "c=8. For the warm rows the warm-up is repeated until the attachments service "
             "stays idle through one (< 0.05 cores: every gateway worker's read model holds "
             "every path of the row); warm-ups used: "
             + ", ".join(f"{t} {r['warmups']}" for t, m, r, _ in reads if m == "warm")
             + ".", "",
             f"Data: {args.rows:,} link attachments seeded before the services started, as "
             f"`attachment.linked` events appended through the service's EventStore "
             f"({args.batch:,} per write transaction; the projector filled the tables) in "
             f"{seeded['seconds']:.1f} s ({args.rows / seeded['seconds']:.0f} rows/s). "
             "model_type cycles over 16 slots, 8 of them `part` and one for each other type; "
             f"model_id = 1 + (n × 7919 mod {ids:,}). "
             + ("The seeded events were left unpublished: the relay published them at start "
                f"and the audit service recorded them, which took {notes['publish_wait']:.0f} "
                "s before measuring." if args.publish_seed else
                "The seeded events were marked published in the same transactions (history "
                "already sent), so the relay did not publish 100k events at start nor the "
                "audit service record them (that would have run during the measurements)."),
             "",
             "What each row sends (`Authorization: Token …` of the admin, a superuser):", "",
             f"- `GET ?limit=50`: `/api/attachment/?limit=50`, the first page; answer "
             f"{notes['list_bytes']:,} bytes (50 rows + `count` over all rows).",
             "- `GET ?model_type=part&model_id=N`: no limit (all matching rows, unpaginated as "
             f"InvenTree does), N rotating over 50 ids per request (Lua); {fmin}–{fmax} rows "
             f"per N (mean {fmean:.1f}), answer ≈ {notes['filter_bytes']:,} bytes.",
             f"- `GET <pk>/`: `/api/attachment/<pk>/`, pk rotating over {len(detail_paths)} "
             f"pks spread over the table; answer ≈ {notes['detail_bytes']:,} bytes.",
             "- **warm**: sent as a client normally does. The gateway keeps the answer in each "
             "worker's read model (dropped on any attachment or user event), so after the "
             "warm-up these are answered from gateway memory without an RPC: the figure shows "
             "the gateway, not the service.",
             "- **no-cache**: the same with `Cache-Control: no-cache`, which bypasses the read "
             "models: every request is an RPC to the attachments service (which, for "
             "`user_detail`, calls the users service too): the service's own figure.",
             f"- uploads: `POST /api/attachment/` multipart (model_type=part, model_id rotating "
             f"1..{UPLOAD_IDS}, comment, file part `attachment` of 1 MB = 1,048,576 random "
             "bytes), prebuilt bodies sent by wrk at c=8. MB/s = 201s × 1 MB / duration. Every "
             "upload is streamed by the gateway into the blob store, then placed "
             "(hard-linked) and recorded by the service.",
             f"- big file: one {args.big_mb} MB multipart upload streamed from a generator "
             "(http.client, 1 MB chunks), then a download of `/media/<key>` (requests, "
             "stream=True, 1 MB chunks); VmRSS of every gateway worker sampled every 50 ms "
             "in a thread.", "",
             "| measurement | mode | req/s | p50 ms | p99 ms | non-2xx/3xx | transfer/s | target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for title, mode, r, target in reads:
        verdict = f"≥ {target} req/s: " + ("met" if r["rps"] >= target else "MISSED")
        if mode == "no-cache":
            verdict += " (uncached)"
        lines.append(f"| `{title}` | {mode} | {r['rps']:.0f} | {r['p50']:.2f} | "
                     f"{r['p99']:.2f} | {r['errors']} | {r['transfer']} | {verdict} |")
    lines.append(f"| `POST` 1 MB upload (c=8) | — | {up['ups']:.1f} uploads/s = "
                 f"**{up['mbps']:.1f} MB/s** | {up['p50']:.1f} | {up['p99']:.1f} | "
                 f"{up['errors']} | — | ≥ 50 MB/s: "
                 f"{'met' if up['mbps'] >= 50 else 'MISSED'} |")
    lines.append(f"| big file upload ({args.big_mb} MB, c=1) | — | "
                 f"{big['bytes'] / MB / big['seconds']:.1f} MB/s ({big['seconds']:.1f} s) | "
                 "| | 0 | | |")
    lines.append(f"| big file download ({args.big_mb} MB, c=1) | — | "
                 f"{down['bytes'] / MB / down['seconds']:.1f} MB/s ({down['seconds']:.1f} s) | "
                 "| | 0 | | |")
    flat_ok = all(max(u, d) - b <= 50 for _, b, u, d, _ in memory)
    lines += ["", f"## Gateway worker memory during the {args.big_mb} MB file", "",
              "VmRSS in MB (MB = 2^20 bytes). Baseline: median over 1 s before the upload; "
              f"peaks over the upload ({notes['samples']['upload']} samples) and the "
              f"download ({notes['samples']['download']} samples); after: median over 1 s "
              "after the download. Target: flat (peak within a few tens of MB of the "
              f"baseline; checked here as ≤ 50 MB): {'met' if flat_ok else 'MISSED'}.", "",
              "| worker pid | baseline | peak upload | peak download | after | max rise |",
              "| --- | --- | --- | --- | --- | --- |"]
    for pid, b, u, d, a in memory:
        lines.append(f"| {pid} | {b:.1f} | {u:.1f} | {d:.1f} | {a:.1f} | "
                     f"{max(u, d) - b:+.1f} |")
    lines += ["", "## Checks", "", "| check | result | detail |", "| --- | --- | --- |"]
    lines += [f"| {name} | {'ok' if ok else 'FAILED'} | {detail} |" for name, ok, detail in checks]
    problems = notes["log_problems"]
    lines += ["", f"stack.log: {len(problems)} error/traceback lines during the measurements"
              + (":" if problems else "."), ""]
    lines += [f"    {p}" for p in problems[:20]]
    labels = list(reads[0][2]["cpu"])
    lines += ["", "## Where the CPU goes", "",
              "CPU cores busy on average during the row (1.00 = one core fully used; the "
              f"machine has {os.cpu_count()}). `machine (all)` is every process; `other work` "
              "is what neither the stack, RabbitMQ nor wrk used (other jobs on the machine).", "",
              "| measurement | mode | " + " | ".join(labels) + " |",
              "| --- | --- |" + " --- |" * len(labels)]
    for title, mode, r, _ in [*reads, ("POST 1 MB upload (c=8)", "—", up, None)]:
        lines.append(f"| `{title}` | {mode} | "
                     + " | ".join(f"{r['cpu'].get(k, 0):.2f}" for k in labels) + " |")
    write_report("attachments", lines)


if __name__ == "__main__":
    main()
