"""`--shard I/N` (tests/shards.py) and scripts/test_shards.py, which `make test-unit` runs."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import shards

ROOT = Path(__file__).resolve().parent.parent


def test_parse():
    assert shards.parse("1/2") == (1, 2) and shards.parse("3/3") == (3, 3)
    for bad in ("0/2", "3/2", "1/0", "x/2", "1", ""):
        with pytest.raises(ValueError):
            shards.parse(bad)


def test_every_file_goes_to_one_shard_and_the_shards_are_balanced():
    sizes = {"a": 40, "b": 30, "c": 20, "d": 10, "e": 10, "f": 5, "g": 5}
    shard_of = shards.assign(sizes, 2)
    assert set(shard_of) == set(sizes) and set(shard_of.values()) == {1, 2}
    load = {s: sum(n for name, n in sizes.items() if shard_of[name] == s) for s in (1, 2)}
    assert load == {1: 60, 2: 60}
    assert shards.assign(sizes, 1) == dict.fromkeys(sizes, 1)
    assert set(shards.assign({"a": 1}, 3).values()) == {1}  # more shards than files


def test_the_exit_status_of_the_shards():
    assert shards_status([0, 0]) == 0
    assert shards_status([0, 5]) == 0  # one shard had nothing to run
    assert shards_status([5, 5]) == 5
    assert shards_status([0, 1]) == 1 and shards_status([2, 1]) == 2


def runner():
    """scripts/test_shards.py as a module."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import test_shards
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return test_shards


def shards_status(codes):
    return runner().status(codes)


def test_the_runner_runs_every_test_once_over_its_shards():
    files = ["tests/svckit/test_signing.py", "tests/svckit/test_claimcheck.py",
             "tests/system/test_generators.py"]
    done = subprocess.run([sys.executable, "scripts/test_shards.py", "-n", "2", *files,
                           "--collect-only", "-q"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout  # shard 1's output as it ran, then shard 2's
    first = out.split("===== shard 1/2 (as it runs", 1)[1].split(
        "===== shard 1/2: exit status 0 =====", 1)[0]
    second = out.split("===== shard 2/2: exit status 0 =====", 1)[1].split(
        "===== 2 shards in", 1)[0]
    ids = [[line for line in p.splitlines() if line.startswith("tests/")]
           for p in (first, second)]
    assert all(ids) and not set(ids[0]) & set(ids[1])
    assert {i.split("::")[0] for i in ids[0]}.isdisjoint({i.split("::")[0] for i in ids[1]})
    plain = subprocess.run([sys.executable, "-m", "pytest", *files, "--collect-only", "-q"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert sorted(ids[0] + ids[1]) == sorted(
        line for line in plain.stdout.splitlines() if line.startswith("tests/"))


def test_the_service_level_tests_and_the_catalog_coverage_share_a_shard():
    """tests/event_recorder.py: the coverage test checks what the service-level tests
    recorded in its own process."""
    group = shards.unit_of("tests/test_event_catalog_coverage.py")
    assert shards.unit_of("tests/system/test_units.py") == group
    assert shards.unit_of("tests/audit/test_replay.py") == group
    assert shards.unit_of("tests/svckit/test_events.py") == "tests/svckit/test_events.py"
    assert shards.unit_of("tests/systemd/test_x.py") == "tests/systemd/test_x.py"


class Item:
    """As much of a pytest item as shards.weight reads."""

    def __init__(self, nodeid, *markers):
        self.nodeid, self.markers = nodeid, markers

    def get_closest_marker(self, name):
        return next((m for m in self.markers if m.name == name), None)


def test_a_test_of_running_processes_costs_more_and_a_long_one_says_so():
    mark = pytest.mark
    assert shards.weight(Item("t"), {}) == shards.weight(Item("t", mark.postgres.mark), {}) \
        == shards.COST
    assert shards.weight(Item("t", mark.broker.mark), {}) == shards.COSTS["broker"]
    # e2e tests are broker tests too: the e2e cost counts
    assert shards.weight(Item("t", mark.e2e.mark, mark.broker.mark), {}) == shards.COSTS["e2e"]
    assert shards.weight(Item("t", mark.e2e.mark, mark.cost(60).mark), {}) == 60.0


def test_a_recorded_cost_wins_over_the_estimate():
    recorded = {"tests/a.py::test_slow": 42.0}
    assert shards.weight(Item("tests/a.py::test_slow", pytest.mark.e2e.mark), recorded) == 42.0
    assert shards.weight(Item("tests/a.py::test_new", pytest.mark.e2e.mark), recorded) == 2.0


def test_recorded_costs_are_written_and_merged(tmp_path):
    first = tmp_path / "first.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/svckit/test_signing.py", f"--record-costs={first}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    seconds = json.loads(first.read_text())
    assert seconds and all(k.startswith("tests/svckit/test_signing.py::") for k in seconds)
    assert all(isinstance(v, float) and v >= 0 for v in seconds.values())
    target = tmp_path / "shard_costs.json"
    target.write_text(json.dumps({"tests/gone.py::test_kept": 1.5,
                                  next(iter(seconds)): 999.0}))
    runner().merge_costs([first], target)
    merged = json.loads(target.read_text())
    assert merged == {"tests/gone.py::test_kept": 1.5, **seconds}
