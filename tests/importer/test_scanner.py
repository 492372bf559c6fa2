"""Scanning data files in a child process (services/importer/scanner.py): real processes
with real limits; the caller's event loop keeps running meanwhile."""
import eventlet
import pytest

from services.importer import datafile, scanner
from services.importer.datafile import DataFileError, Limits
from services.importer.scanner import Budget
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
    assert Budget.from_settings() == Budget(memory_mb=1024, seconds=240)
    monkeypatch.setenv("IMPORT_SCAN_MEMORY_MB", "300")
    monkeypatch.setenv("IMPORT_SCAN_SECONDS", "2.5")
    assert Budget.from_settings() == Budget(memory_mb=300, seconds=2.5)


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
