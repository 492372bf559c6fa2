"""Splitting a run into shards that separate pytest processes run side by side
(`--shard I/N`, scripts/test_shards.py, `make test-unit`).

A shard takes whole test files, so a module's fixtures are set up in one process only; the
files are dealt out largest first (by their tests' cost: COSTS, and `cost` markers) to the
shard with the least cost so far. The files of a group in TOGETHER go to one shard as one unit. Every
process collects the same files in the same order, so the N shards together run each
selected test exactly once."""
import json
import os
from pathlib import Path

import pytest

from tests.event_recorder import COVERAGE_TEST, SERVICE_TESTS

# files that must share a process: the event catalog's coverage test checks what the
# service-level tests recorded in its own process (tests/event_recorder.py)
TOGETHER: tuple[tuple[str, ...], ...] = ((*SERVICE_TESTS, COVERAGE_TEST),)
# what a test costs, in seconds on the 2-core machine, to balance the shards: one that calls
# code in the test's process 0.25 s; one that starts a broker's consumers in the test's
# process (nameko containers, a vhost of its own per test) about 4 s; an end-to-end one 2 s
# (it shares its module's stack); a test of a minute or more says so with
# `@pytest.mark.cost(seconds)` (the fuzzing runs, the cluster's start and checks). Measured
# with `make test`'s --durations on a quiet machine (bench/test_unit_time.md).
COST = 0.25
COSTS = {"e2e": 2.0, "cluster": 2.0, "broker": 4.0}  # the first marker a test has counts
# what each test took (setup, call and teardown, seconds) in a recorded `make test` run
# (`scripts/test_shards.py --record-costs`): used instead of the estimates above for the
# tests it lists; a test added since is estimated
RECORDED_COSTS = Path(__file__).with_name("shard_costs.json")


def recorded_costs() -> dict[str, float]:
    """The recorded seconds per test id; empty when nothing is recorded."""
    try:
        return json.loads(RECORDED_COSTS.read_text())
    except FileNotFoundError:
        return {}

def parse(value: str) -> tuple[int, int]:
    """'I/N' (1 <= I <= N) as (I, N); ValueError otherwise."""
    index, _, count = value.partition("/")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise ValueError(f"shard {value!r}: expected I/N with 1 <= I <= N")
    return i, n


def assign(sizes: dict[str, float], count: int) -> dict[str, int]:
    """Each file or group (name: cost of its tests) to a shard 1..count, largest first to
    the lightest shard (ties broken by name and shard number, so every process agrees)."""
    load = [0.0] * count
    shard_of = {}
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        lightest = min(range(count), key=lambda s: (load[s], s))
        shard_of[name] = lightest + 1
        load[lightest] += sizes[name]
    return shard_of


def unit_of(path: str) -> str:
    """What goes to one shard with `path` (relative to the root): its group, or itself."""
    for group in TOGETHER:
        if any(path == member or path.startswith(member + os.sep) for member in group):
            return "+".join(group)
    return path


def weight(item, recorded: dict[str, float]) -> float:
    """The test's recorded cost, or its estimate: what its `cost` marker says, or COSTS."""
    if item.nodeid in recorded:
        return recorded[item.nodeid]
    marker = item.get_closest_marker("cost")
    if marker is not None:
        return float(marker.args[0])
    return next((COSTS[m] for m in COSTS if item.get_closest_marker(m)), COST)


def select(items: list, shard: tuple[int, int]) -> tuple[list, list]:
    """(kept, deselected) items for `shard`, by the file (or group) each item comes from."""
    index, count = shard
    units = {id(item): unit_of(os.path.relpath(str(item.path), str(item.config.rootpath)))
             for item in items}
    recorded = recorded_costs()
    sizes: dict[str, float] = {}
    for item in items:
        sizes[units[id(item)]] = sizes.get(units[id(item)], 0) + weight(item, recorded)
    shard_of = assign(sizes, count)
    kept = [item for item in items if shard_of[units[id(item)]] == index]
    return kept, [item for item in items if shard_of[units[id(item)]] != index]


class Shard:
    """The pytest plugin of `--shard`: runs after every other collection hook (after `-m`
    and `-k` have deselected), so shards are balanced on the tests that will run."""

    def __init__(self, shard: tuple[int, int]):
        self.shard = shard

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        kept, dropped = select(items, self.shard)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    def pytest_report_header(self, config):
        return f"shard {self.shard[0]} of {self.shard[1]}"


class CostRecorder:
    """The plugin of `--record-costs PATH`: writes each test's seconds (its setup, call and
    teardown) as JSON to PATH at the end of the run."""

    def __init__(self, path: str):
        self.path = path
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report):
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session):
        Path(self.path).write_text(json.dumps(
            {nodeid: round(seconds, 2) for nodeid, seconds in self.seconds.items()}))
