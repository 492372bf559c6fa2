"""What the hash chain costs now that the event relay links events off the write path
(svckit.chainlog, svckit.relay): writes/s of one status write transaction (a custom state
created, one event), which links nothing, and the cost of the relay's linking pass per event,
for a pass over 1 event (a relay woken by every commit) and over 500 (its batch under a
backlog); SQLite (a file) and PostgreSQL (a fresh database), PostgreSQL also with 8 writers.
Writes a table to bench/results/chain-cost-<date>.md.

    .venv/bin/python bench/chain_cost.py [--writes 300] [--rounds 4] [--postgres ADMIN_URL]
"""
import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from services.status import models
from svckit import chainlog
from svckit.db import Database

STATE = {"name": "s", "label": "S", "color": "success", "logical_key": 10, "model": 7,
         "reference_status": "StockStatus"}
counter = iter(range(1, 10**9))


def write(db):
    with db.write() as s:
        pk = models.store.next_stream_id(s, "custom_state")
        models.store.record(s, "custom_state", pk, "custom_state.created",
                            {**STATE, "key": next(counter)}, version=1)


def timed(db, writes: int, threads: int) -> float:
    """Writes per second with `threads` writers, `writes` each."""
    start = threading.Barrier(threads)

    def work():
        start.wait()
        for _ in range(writes):
            write(db)
    pool = [threading.Thread(target=work) for _ in range(threads)]
    began = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return writes * threads / (time.perf_counter() - began)


def link_cost(db, events: int, batch: int) -> float:
    """ms per event of linking `events` unlinked events in passes of `batch`."""
    for _ in range(events):
        write(db)
    began = time.perf_counter()
    while True:
        with db.write() as s:
            if not chainlog.chain_pending(models.store, s, batch):
                break
    return (time.perf_counter() - began) * 1000 / events


def measure(db, writes: int, rounds: int, threads: int) -> dict:
    writes_per_s, one, batch = [], [], []
    for _ in range(rounds):
        with db.write() as s:  # start each round from a linked log
            chainlog.chain_pending(models.store, s)
        writes_per_s.append(timed(db, writes, threads))
        with db.write() as s:
            chainlog.chain_pending(models.store, s)
        one.append(link_cost(db, 50, 1))
        batch.append(link_cost(db, 500, 500))
    return {"writes": statistics.median(writes_per_s), "one": statistics.median(one),
            "batch": statistics.median(batch)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    load = os.getloadavg()
    rows = []
    directory = Path(tempfile.mkdtemp(prefix="chain-cost-"))
    sqlite = Database(f"sqlite:///{directory / 'status.sqlite3'}", models.metadata)
    sqlite.create_all()
    rows.append(("SQLite", 1, measure(sqlite, args.writes, args.rounds, 1)))
    sqlite.dispose()
    import psycopg2
    name = f"chain_cost_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.postgres)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        base = args.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
        pg = Database(f"{base}/{name}", models.metadata)
        pg.create_all()
        rows.append(("PostgreSQL", 1, measure(pg, args.writes, args.rounds, 1)))
        rows.append(("PostgreSQL", 8, measure(pg, args.writes // 8, args.rounds, 8)))
        pg.dispose()
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    lines = [f"# Cost of the event log's hash chain, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"2 cores, load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} before start "
             "(other work on the machine included). One write = one transaction that takes "
             "a fresh id and records one `custom_state.created` event (the status service's "
             "store, in-process, no RPC), linking nothing; a linking pass is the relay's "
             "(`chainlog.chain_pending` in its own transaction); medians of "
             f"{args.rounds} rounds of {args.writes} writes per setting. PostgreSQL with "
             "synchronous_commit on.", "",
             "| store | writers | writes/s | linking, ms per event, 1 a pass | "
             "linking, ms per event, 500 a pass |", "| --- | --- | --- | --- | --- |"]
    for store, threads, r in rows:
        lines.append(f"| {store} | {threads} | {r['writes']:.0f} | {r['one']:.2f} | "
                     f"{r['batch']:.3f} |")
        print(f"{store:10} writers={threads}  {r['writes']:7.0f} writes/s  linking "
              f"{r['one']:.2f} ms/event one a pass, {r['batch']:.3f} ms/event 500 a pass")
    out = Path(__file__).resolve().parent / "results" / f"chain-cost-{stamp}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
