"""A gateway worker's metrics in prometheus_client's multiprocess mode, with the process id
read without a system call per write (svckit.procid): a forked worker writes its own file,
and the sum over the files counts every process's samples."""
import os
import subprocess
import sys

from svckit.layout import ROOT

SCRIPT = """
import os
from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector
from gateway.metrics import count_cache_lookup
from svckit import procid
assert values.ValueClass is not values.MutexValue
count_cache_lookup("token", True)
parent = os.getpid()
pid = os.fork()
if pid == 0:
    assert procid.current() == os.getpid() != parent  # the child's own id
    count_cache_lookup("token", True)
    count_cache_lookup("token", False)
    os._exit(0)
os.waitpid(pid, 0)
registry = CollectorRegistry()
MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
hits = registry.get_sample_value("inventree_gateway_auth_cache_total",
                                 {"cache": "token", "result": "hit"})
misses = registry.get_sample_value("inventree_gateway_auth_cache_total",
                                   {"cache": "token", "result": "miss"})
print(hits, misses, sorted(os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])))
"""


def test_a_forked_worker_writes_its_own_file_and_the_sum_counts_both(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    hits, misses, files = out.stdout.split(" ", 2)
    assert (float(hits), float(misses)) == (2.0, 1.0)
    assert files.count("counter_") == 2  # one file per process
