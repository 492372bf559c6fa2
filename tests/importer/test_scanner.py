"""Scanning data files in a child process (services/importer/scanner.py): real processes
with real limits; the caller's event loop keeps running meanwhile."""
import os

import eventlet
import pytest

from services.importer import datafile, scanner
from services.importer.datafile import DataFileError, Limits
from services.importer.scanner import Budget
from services.importer.settings import ImporterSettings
from svckit.errors import ServiceUnavailable
from tests.importer.xlsxbombs import shared_strings_xlsx


def write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def refusal(path, fmt, limits=Limits(), budget=Budget()) -> str:
    with pytest.raises(DataFileError) as info:
        scanner.scan(path, fmt, limits, budget)
    return str(info.value)


def test_budget_from_settings(monkeypatch):
    for name in ("IMPORT_SCAN_MEMORY_MB", "IMPORT_SCAN_SECONDS", "IMPORT_SCAN_PROCESSES"):
        monkeypatch.delenv(name, raising=False)
    assert ImporterSettings().budget() == Budget(memory_mb=1024, seconds=240, processes=4)
    monkeypatch.setenv("IMPORT_SCAN_MEMORY_MB", "300")
    monkeypatch.setenv("IMPORT_SCAN_SECONDS", "2.5")
    monkeypatch.setenv("IMPORT_SCAN_PROCESSES", "2")
    assert ImporterSettings().budget() == Budget(memory_mb=300, seconds=2.5, processes=2)


def test_the_child_answers_as_scan_would(tmp_path):
    path = write(tmp_path, "codes.csv", b"code,,description\nA,1,x\n\nB,2,y\n")
    assert scanner.scan(path, "csv", Limits(), Budget()) == datafile.scan(path, "csv", Limits())
    assert refusal(path, "csv", Limits(max_rows=1)) == "Data file contains too many rows"
    deep = write(tmp_path, "deep.json", b"[" * 400_000)
    assert refusal(deep, "json") == "Data file is nested too deeply (more than 32 levels)"


def test_a_file_over_the_memory_budget_is_refused(tmp_path):
    """One shared string of 300 MB, zipped to 300 KB, with every count limit lifted: the
    child runs out of its 200 MB, not the importer."""
    path = write(tmp_path, "big.xlsx", shared_strings_xlsx(1, b"x" * (1 << 20), 300))
    lifted = Limits(max_cell_chars=1 << 30)
    assert refusal(path, "xlsx", lifted, Budget(memory_mb=200)) == (
        "Data file needs more memory to read than allowed (200 MB)")


def test_a_file_over_the_time_budget_is_refused_while_the_loop_runs(tmp_path):
    """A million shared strings with the count limit lifted take openpyxl many seconds:
    the child is killed after the budget, and other green threads run meanwhile."""
    path = write(tmp_path, "slow.xlsx", shared_strings_xlsx(1_000_000))
    lifted = Limits(max_shared_strings=10 ** 9)
    scanning = eventlet.spawn(refusal, path, "xlsx", lifted, Budget(seconds=2))
    ticks = 0
    while not scanning.dead:
        eventlet.sleep(0.01)
        ticks += 1
    assert scanning.wait() == "Data file takes too long to read (more than 2 seconds)"
    assert ticks > 5  # the caller's loop was never blocked by the scan


def children() -> set[int]:
    """This process's child processes."""
    me, found = os.getpid(), set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                    found.add(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


def test_rows_come_from_a_child_as_datafile_reads_them(tmp_path):
    text = "code,description\n" + "".join(f"C{i},d{i}\n" for i in range(2500)) + ",\nZ,z\n"
    path = write(tmp_path, "codes.csv", text.encode())
    expected = [list(row) for row in datafile.rows(path, "csv", ["code", "description"], 7)]
    found = scanner.rows(path, "csv", ["code", "description"], 7, Limits(), Budget())
    assert [list(row) for row in found] == expected and expected[-1] == [2501, {
        "code": "Z", "description": "z"}]
    before = children()
    found = scanner.rows(path, "csv", ["code", "description"], 0, Limits(), Budget())
    assert next(found) == (0, {"code": "C0", "description": "d0"})
    assert children() - before  # the child waits for us to read on
    found.close()
    assert not children() - before  # closing stopped it
    bad = write(tmp_path, "bad.csv", b"code\nA\nB,C\n")
    with pytest.raises(DataFileError) as info:
        list(scanner.rows(bad, "csv", ["code"], 0, Limits(), Budget()))
    assert str(info.value) == "Invalid data file dimensions"


def test_rows_over_the_memory_budget_fail_in_the_child(tmp_path):
    path = write(tmp_path, "big.xlsx", shared_strings_xlsx(1, b"x" * (1 << 20), 300))
    with pytest.raises(DataFileError) as info:
        list(scanner.rows(path, "xlsx", ["code"], 0, Limits(max_cell_chars=1 << 30),
                          Budget(memory_mb=200)))
    assert str(info.value) == "Data file needs more memory to read than allowed (200 MB)"


def test_the_loop_runs_while_a_child_reads_rows(tmp_path):
    """Opening a workbook of 200,000 shared strings takes openpyxl seconds, in the child."""
    path = write(tmp_path, "slow.xlsx", shared_strings_xlsx(200_000))
    reading = eventlet.spawn(lambda: list(scanner.rows(path, "xlsx", ["code"], 0, Limits(),
                                                       Budget())))
    ticks = 0
    while not reading.dead:
        eventlet.sleep(0.01)
        ticks += 1
    assert reading.wait() == [(0, {"code": "A"})]
    assert ticks > 5


def test_no_child_process_is_a_503_not_a_crash(tmp_path, monkeypatch):
    path = write(tmp_path, "codes.csv", b"code\nA\n")
    monkeypatch.setattr(scanner.sys, "executable", str(tmp_path / "no-python"))
    for call in (lambda: scanner.scan(path, "csv", Limits(), Budget()),
                 lambda: list(scanner.rows(path, "csv", ["code"], 0, Limits(), Budget()))):
        with pytest.raises(ServiceUnavailable) as info:
            call()
        assert info.value.detail == {
            "detail": "The importer cannot read data files right now; try again later"}
