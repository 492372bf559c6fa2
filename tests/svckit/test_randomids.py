"""svckit.randomids: version-4 UUIDs as uuid4().hex writes them, never the same twice,
and never the same in a forked child as in its parent (each draws its own bytes)."""
import os
import subprocess
import sys
import uuid

from svckit import randomids
from svckit.layout import ROOT


def test_ids_are_random_version_4_uuids_and_distinct():
    ids = [randomids.uuid4_hex() for _ in range(2000)]  # several draws of the pool
    assert len(set(ids)) == len(ids)
    for value in ids[:300]:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, value)


SCRIPT = """
import os
from svckit import randomids
randomids.uuid4_hex()  # the parent holds a drawn pool
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, " ".join(randomids.uuid4_hex() for _ in range(5)).encode())
    os._exit(0)
os.close(write)
os.waitpid(pid, 0)
child = os.read(read, 4096).decode().split()
parent = [randomids.uuid4_hex() for _ in range(5)]
assert len(child) == 5 and not set(child) & set(parent), (child, parent)
print("distinct")
"""


def test_a_forked_child_hands_out_ids_its_parent_does_not():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "distinct", out.stderr[-2000:]
