"""Run pytest as N processes side by side, each one shard of the tests (`--shard I/N`,
tests/shards.py), and exit as a single run would: `make test-unit` uses it.

    python scripts/test_shards.py [-n N] [--record-costs] [pytest arguments ...]

N defaults to the number of CPUs this process may use. The first shard's output is printed
as it runs (a long run shows its progress); every other shard's is kept in a temporary file
and printed whole, shard after shard, when all have ended; the exit status
is 0 when every shard passed, or the first failing shard's (pytest's codes). A shard that
collected nothing (status 5) counts as passed when another shard ran tests. With
--record-costs, what each test took is merged into tests/shard_costs.json, which the shards
are balanced by (tests/shards.py)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_TESTS = 5  # pytest's exit status when nothing was collected


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--record-costs", action="store_true",
                        help="merge each test's seconds into tests/shard_costs.json")
    args, pytest_args = parser.parse_known_args(argv)
    if args.processes < 1:
        parser.error("-n must be at least 1")
    count = args.processes
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shards-") as tmp:
        outputs = [Path(tmp) / f"shard-{i}.log" for i in range(1, count + 1)]
        costs = [Path(tmp) / f"costs-{i}.json" for i in range(1, count + 1)]
        print(f"===== shard 1/{count} (as it runs; the others' output follows at the end) "
              "=====", flush=True)
        procs = []
        for i, out in enumerate(outputs, 1):
            command = [sys.executable, "-m", "pytest", f"--shard={i}/{count}", *pytest_args]
            if args.record_costs:
                command.append(f"--record-costs={costs[i - 1]}")
            if i == 1:
                procs.append(subprocess.Popen(command, cwd=ROOT, stderr=subprocess.STDOUT))
                continue
            with open(out, "wb") as f:
                procs.append(subprocess.Popen(command, cwd=ROOT, stdout=f,
                                              stderr=subprocess.STDOUT))
        try:
            codes = [p.wait() for p in procs]
        except KeyboardInterrupt:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
            raise
        print(f"===== shard 1/{count}: exit status {codes[0]} =====", flush=True)
        for i, out in enumerate(outputs[1:], 2):
            print(f"===== shard {i}/{count}: exit status {codes[i - 1]} =====", flush=True)
            sys.stdout.buffer.write(out.read_bytes())
            sys.stdout.flush()
        if args.record_costs:
            merge_costs([path for path in costs if path.exists()])
    print(f"===== {count} shards in {time.monotonic() - started:.1f} s: exit statuses "
          f"{codes} =====")
    return status(codes)


COSTS_FILE = ROOT / "tests" / "shard_costs.json"


def merge_costs(paths: list[Path], target: Path = COSTS_FILE) -> None:
    """The shards' recorded seconds per test, over those already in `target`."""
    merged = json.loads(target.read_text()) if target.exists() else {}
    for path in paths:
        merged.update(json.loads(path.read_text()))
    target.write_text(json.dumps(dict(sorted(merged.items())), indent=0) + "\n")
    print(f"===== the costs of {len(merged)} tests in {target} =====")


def status(codes: list[int]) -> int:
    """One exit status for the shards' statuses."""
    if all(code == NO_TESTS for code in codes):
        return NO_TESTS
    failed = [code for code in codes if code not in (0, NO_TESTS)]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
