"""What the hash chain adds to a write: one status write transaction (a custom state created,
one event) timed with the chain linked at commit and without (the commit hook removed), in
alternating rounds so that load from other work falls on both alike; SQLite (a file) and
PostgreSQL (a fresh database), and on PostgreSQL also 8 writers at once (the chain lock
serialises their commits). Writes a table to bench/results/chain-cost-<date>.md.

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

from sqlalchemy import event
from sqlalchemy.engine import Engine

from services.status import models
from svckit import chainlog, events as svckit_events
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


def chained(on: bool):
    hooked = event.contains(Engine, "commit", svckit_events._chain_at_commit)
    if on and not hooked:
        event.listen(Engine, "commit", svckit_events._chain_at_commit)
    if not on and hooked:
        event.remove(Engine, "commit", svckit_events._chain_at_commit)


def measure(db, writes: int, rounds: int, threads: int) -> dict:
    results: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for on in (False, True):
            chained(on)
            results[on].append(timed(db, writes, threads))
            if not on:  # chain what the plain round left, outside the timing
                chained(True)
                with db.write() as s:
                    chainlog.chain_pending(models.store, s)
    chained(True)
    return {on: statistics.median(v) for on, v in results.items()}


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
             "store, in-process, no RPC); median of "
             f"{args.rounds} alternating rounds of {args.writes} writes per setting. "
             "`chained`: the chain is linked at commit (svckit.chainlog); `plain`: the commit "
             "hook removed. PostgreSQL with synchronous_commit on.", "",
             "| store | writers | plain writes/s | chained writes/s | ms added per write |",
             "| --- | --- | --- | --- | --- |"]
    for store, threads, result in rows:
        plain, chain = result[False], result[True]
        added = (1 / chain - 1 / plain) * 1000 * threads
        lines.append(f"| {store} | {threads} | {plain:.0f} | {chain:.0f} | {added:.2f} |")
        print(f"{store:10} writers={threads}  plain {plain:7.0f}/s  chained {chain:7.0f}/s  "
              f"+{added:.2f} ms/write")
    out = Path(__file__).resolve().parent / "results" / f"chain-cost-{stamp}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
