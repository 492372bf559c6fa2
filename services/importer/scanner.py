"""Reading data files in child processes of their own, with a memory and a time budget.

A hostile file (deep nesting, a workbook zipping a million shared strings, a huge cell)
then costs at most one bounded process, never the importer: its event loop keeps
answering other calls while the child works, and a scan over its budget is refused with
a 400 on `data_file`. The parent runs `python -m services.importer.scanner`, sends the
request as JSON on stdin and reads the answer from stdout: one JSON document for `scan()`,
one JSON line per row for `rows()` (the child waits while the parent does not read).
"""
import json
import logging
import resource
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Iterator

from svckit.errors import ServiceUnavailable
from svckit.layout import ROOT

from . import datafile

log = logging.getLogger(__name__)

TOO_BIG = "Data file needs more memory to read than allowed ({} MB)"
TOO_SLOW = "Data file takes too long to read (more than {} seconds)"
_OUT_OF_MEMORY = 3  # the child's exit status when it ran out of memory


@dataclass(frozen=True)
class Budget:
    """A process's comes from its settings (ImporterSettings.budget: IMPORT_SCAN_*)."""

    memory_mb: int = 1024   # address space of the child process
    seconds: float = 240    # wall clock (and CPU) time of one scan
    processes: int = 4      # scans at once per importer process (more wait)


_slots = None


def _processes(count: int):
    """At most `count` scans at a time in this process (more wait): the first caller's
    count holds (every caller passes its process's IMPORT_SCAN_PROCESSES)."""
    global _slots
    if _slots is None:
        from eventlet.semaphore import Semaphore
        _slots = Semaphore(max(1, count))
    return _slots


def scan(path, fmt: str, limits: datafile.Limits, budget: Budget) -> datafile.Scan:
    """datafile.scan() in a child process; DataFileError for a bad file or one over the
    budget. Only the calling green thread waits."""
    with _processes(budget.processes):
        return _scan_in_child(path, fmt, limits, budget)


def _scan_in_child(path, fmt: str, limits: datafile.Limits, budget: Budget) -> datafile.Scan:
    from eventlet import Timeout
    from eventlet.green import subprocess

    request = json.dumps({"path": str(path), "fmt": fmt, "limits": asdict(limits),
                          "budget": asdict(budget)}).encode()
    child = _start(subprocess)
    timer = Timeout(budget.seconds)
    try:
        out, err = child.communicate(request)
    except Timeout as exc:
        if exc is not timer:
            raise
        child.kill()
        child.wait()
        raise datafile.DataFileError(TOO_SLOW.format(_number(budget.seconds))) from None
    except BaseException:
        child.kill()
        child.wait()
        raise
    finally:
        timer.cancel()
    return _answer(child.returncode, out, err, budget)


def rows(path, fmt: str, headers: list[str], start: int, limits: datafile.Limits,
         budget: Budget) -> Iterator[tuple[int, dict]]:
    """datafile.rows() read by a child process (CPU time: twice the scan's budget, as the
    file was scanned within it); DataFileError if the child fails. Close the iterator to
    stop the child early."""
    from eventlet.green import subprocess

    request = json.dumps({"op": "rows", "path": str(path), "fmt": fmt, "headers": headers,
                          "start": start, "limits": asdict(limits),
                          "budget": asdict(budget)}).encode()
    child = _start(subprocess)
    try:
        child.stdin.write(request)
        child.stdin.close()
        for line in _lines(child.stdout.fileno()):
            if line.startswith(b"["):
                index, cells = json.loads(line)
                yield index, cells
                continue
            answer = json.loads(line)
            if "error" in answer:
                raise datafile.DataFileError(answer["error"])
            return  # {"end": true}
        child.wait()
        _answer(child.returncode, b"", child.stderr.read(), budget)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        for pipe in (child.stdin, child.stdout, child.stderr):
            pipe.close()


def _start(subprocess):
    """A child running this module; 503 when the system cannot start one now."""
    try:
        return subprocess.Popen([sys.executable, "-m", __name__], cwd=str(ROOT),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        log.error("cannot start a data file reader: %s", exc)
        raise ServiceUnavailable({"detail": "The importer cannot read data files right now; "
                                            "try again later"}) from None


def _lines(fd: int) -> Iterator[bytes]:
    """The lines read from pipe `fd` in large chunks, waiting in the event loop (a green
    pipe's own line reading is far slower)."""
    import os

    from eventlet.hubs import trampoline

    os.set_blocking(fd, False)
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            trampoline(fd, read=True)
            continue
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


def _answer(status: int, out: bytes, err: bytes, budget: Budget) -> datafile.Scan:
    """The child's scan, or the DataFileError it stands for."""
    try:
        answer = json.loads(out) if out else {}
    except ValueError:
        answer = {}
    if "scan" in answer:
        return datafile.Scan(**answer["scan"])
    if "error" in answer:
        raise datafile.DataFileError(answer["error"])
    if status == _OUT_OF_MEMORY or b"MemoryError" in err:
        raise datafile.DataFileError(TOO_BIG.format(budget.memory_mb))
    if status in (-signal.SIGXCPU, -signal.SIGKILL):
        raise datafile.DataFileError(TOO_SLOW.format(_number(budget.seconds)))
    log.error("data file scanner failed (status %s): %s", status,
              err.decode(errors="replace")[-2000:])
    raise datafile.DataFileError(datafile.UNSUPPORTED)


def _number(value: float):
    return int(value) if float(value).is_integer() else value


# -- the child -----------------------------------------------------------------------------

def _limit_self(budget: Budget, cpu_factor: int = 1):
    """Cap this process's address space and CPU time (the parent also keeps the wall
    clock of a scan)."""
    memory = budget.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(budget.seconds * cpu_factor) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _write_rows(request: dict, budget: Budget):
    """Each row as a JSON line, then `{"end": true}` (or `{"error": ...}`)."""
    out = sys.stdout
    try:
        for index, cells in datafile.rows(request["path"], request["fmt"], request["headers"],
                                          request["start"],
                                          datafile.Limits(**request["limits"])):
            out.write(json.dumps([index, cells]))
            out.write("\n")
        answer = {"end": True}
    except datafile.DataFileError as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": TOO_BIG.format(budget.memory_mb)}
    out.write(json.dumps(answer) + "\n")
    out.flush()


def main():
    request = json.loads(sys.stdin.buffer.read())
    budget = Budget(**request["budget"])
    if request.get("op") == "rows":
        _limit_self(budget, cpu_factor=2)
        _write_rows(request, budget)
        return
    _limit_self(budget)
    try:
        found = datafile.scan(request["path"], request["fmt"],
                              datafile.Limits(**request["limits"]))
        answer = {"scan": asdict(found)}
    except datafile.DataFileError as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": TOO_BIG.format(budget.memory_mb)}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except MemoryError:
        sys.exit(_OUT_OF_MEMORY)
