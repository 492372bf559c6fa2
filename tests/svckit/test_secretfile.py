"""svckit.secretfile: processes starting together share one generated secret."""
import multiprocessing
import stat

from svckit.secretfile import shared_secret


def test_created_once_private_and_kept(tmp_path):
    path = tmp_path / "sub" / "secret"
    first = shared_secret(path)
    assert len(first) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert shared_secret(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temporary left


def _read(path, barrier, out):
    barrier.wait()
    out.put(shared_secret(path))


def test_processes_starting_together_get_the_same_secret(tmp_path):
    path = tmp_path / "secret"
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_read, args=(path, barrier, out)) for _ in range(8)]
    for p in procs:
        p.start()
    secrets = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
    assert secrets == {path.read_text().strip()}
