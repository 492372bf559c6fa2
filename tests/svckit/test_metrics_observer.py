"""svckit.metrics's `observer` and `Children`: the samples prometheus_client's own `observe`
and `inc` give, in memory and in multiprocess mode (a gateway worker's)."""
import math
import os
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from svckit.layout import ROOT
from svckit.metrics import BUCKETS, Children, observer

AMOUNTS = [0.0, 0.0004, 0.001, 0.0010001, 0.0025, 0.07, 1, 2.5, 59.9, 60, 61, 1e9, math.inf,
           -0.5]


def samples(registry: CollectorRegistry) -> list:
    return sorted((s.name, tuple(sorted(s.labels.items())), s.value)
                  for family in registry.collect() for s in family.samples
                  if not s.name.endswith("_created"))


def test_observer_counts_what_observe_counts():
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    for registry in (theirs, ours):
        Histogram("t_seconds", "t", ["route"], buckets=BUCKETS, registry=registry)
    their_child = theirs._names_to_collectors["t_seconds"].labels("/a/")
    our_children = Children(ours._names_to_collectors["t_seconds"])
    for amount in AMOUNTS:
        their_child.observe(amount)
        our_children.observer("/a/")(amount)
    assert samples(ours) == samples(theirs)
    assert our_children.observer("/a/") is our_children.observer("/a/")


def test_a_labelled_parent_is_refused_as_observe_refuses_it():
    with pytest.raises(ValueError, match="missing label values"):
        observer(Histogram("p_seconds", "p", ["route"], registry=CollectorRegistry()))


def test_adder_counts_what_inc_counts():
    registry = CollectorRegistry()
    children = Children(Counter("c_total", "c", ["result"], registry=registry))
    children.adder("hit")(1)
    children.adder("hit")(2)
    children("miss").inc()
    assert registry.get_sample_value("c_total", {"result": "hit"}) == 3.0
    assert registry.get_sample_value("c_total", {"result": "miss"}) == 1.0


SCRIPT = """
import os
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from svckit.metrics import BUCKETS, Children
ours = Children(Histogram("mp_ours_seconds", "o", ["route"], buckets=BUCKETS))
theirs = Histogram("mp_theirs_seconds", "t", ["route"], buckets=BUCKETS)
for amount in (0.0004, 0.001, 0.3, 7, 100):
    ours.observer("/a/")(amount)
    theirs.labels("/a/").observe(amount)
if os.fork() == 0:  # a forked worker writes its own file
    ours.observer("/a/")(0.02)
    theirs.labels("/a/").observe(0.02)
    os._exit(0)
os.wait()
registry = CollectorRegistry()
MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
for family in registry.collect():
    for s in family.samples:
        print(s.name.replace("_ours", "").replace("_theirs", ""), sorted(s.labels.items()),
              s.value, family.name.startswith("mp_ours"))
"""


def test_in_multiprocess_mode_too(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    ours = sorted(line.rsplit(" ", 1)[0] for line in lines if line.endswith("True"))
    theirs = sorted(line.rsplit(" ", 1)[0] for line in lines if line.endswith("False"))
    assert ours == theirs and len(ours) == len(BUCKETS) + 3  # its buckets, +Inf, count, sum
    assert "mp_seconds_count [('route', '/a/')] 6.0" in ours
