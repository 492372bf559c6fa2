"""The importer's data-file layer (services/importer/datafile.py) on real files."""
import csv
import datetime
import json
import os
import tracemalloc

import openpyxl
import pytest

from services.importer.datafile import FORMATS, DataFileError, Limits, Scan, file_format, rows, scan
from services.importer.settings import ImporterSettings
from tests.importer.xlsxbombs import shared_strings_xlsx


def write(tmp_path, name, content):
    """A file under tmp_path holding `content` (text is written as UTF-8, untranslated)."""
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def write_xlsx(tmp_path, table, name="data.xlsx"):
    """An .xlsx file whose first sheet holds `table` (a list of rows)."""
    workbook = openpyxl.Workbook()
    for row in table:
        workbook.active.append(row)
    workbook.create_sheet("ignored").append(["other", "sheet"])
    path = tmp_path / name
    workbook.save(path)
    return path


def error(path, fmt, limits=Limits()):
    """The message scan() raises for the file."""
    with pytest.raises(DataFileError) as info:
        scan(path, fmt, limits)
    return str(info.value)


# -- file names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt", [("parts.csv", "csv"), ("PARTS.CSV", "csv"),
                                       ("a.b.Tsv", "tsv"), ("x.json", "json"),
                                       ("dir/sheet.XLSX", "xlsx")])
def test_file_format(name, fmt):
    assert file_format(name) == fmt


@pytest.mark.parametrize("name, ext", [("notes.txt", "txt"), ("README", ""), ("old.XLS", "xls")])
def test_file_format_rejected(name, ext):
    with pytest.raises(DataFileError) as info:
        file_format(name)
    assert str(info.value) == (f"File extension “{ext}” is not allowed. "
                               "Allowed extensions are: csv, xlsx, tsv, json.")
    assert isinstance(info.value, ValueError)
    assert FORMATS == ("csv", "xlsx", "tsv", "json")


def test_limits_from_settings(monkeypatch):
    assert ImporterSettings().limits() == Limits(5_000_000, 1000, 65_536, 32, 250_000)
    monkeypatch.setenv("IMPORT_MAX_ROWS", "10")
    monkeypatch.setenv("IMPORT_MAX_COLUMNS", "3")
    monkeypatch.setenv("IMPORT_MAX_CELL_CHARS", "50")
    monkeypatch.setenv("IMPORT_MAX_JSON_DEPTH", "4")
    monkeypatch.setenv("IMPORT_MAX_SHARED_STRINGS", "7")
    assert ImporterSettings().limits() == Limits(max_rows=10, max_columns=3, max_cell_chars=50,
                                            max_json_depth=4, max_shared_strings=7)


# -- CSV and TSV ---------------------------------------------------------------------------

def test_csv_round_trip(tmp_path):
    path = write(tmp_path, "d.csv", " name ,,qty\r\nbolt,M3,5\r\n,,\r\n\r\nnut,\"a, b\",\r\n"
                                    "washer\r\n\"multi\nline\",=1+2,@x\r\n")
    result = scan(path, "csv", Limits())
    assert result == Scan(headers=["name", "", "qty"], columns=["name", "Column 2", "qty"],
                          row_count=4)
    assert list(rows(path, "csv", result.headers)) == [
        (0, {"name": "bolt", "": "M3", "qty": "5"}),
        (3, {"name": "nut", "": "a, b", "qty": ""}),
        (4, {"name": "washer", "": "", "qty": ""}),
        (5, {"name": "multi\nline", "": "=1+2", "qty": "@x"}),
    ]
    assert [index for index, _ in rows(path, "csv", result.headers, start=1)] == [3, 4, 5]
    assert [index for index, _ in rows(path, "csv", result.headers, start=4)] == [4, 5]
    assert list(rows(path, "csv", result.headers, start=6)) == []


def test_csv_bom_and_unicode(tmp_path):
    path = write(tmp_path, "d.csv", "\ufeffPart,Beschreibung\nVentil,Größe “M3”\n")
    result = scan(path, "csv", Limits())
    assert result.headers == ["Part", "Beschreibung"]
    assert list(rows(path, "csv", result.headers)) == [
        (0, {"Part": "Ventil", "Beschreibung": "Größe “M3”"})]


def test_tsv(tmp_path):
    path = write(tmp_path, "d.tsv", "a\tb,c\n1\t+cmd, 2\n")
    result = scan(path, "tsv", Limits())
    assert result.headers == ["a", "b,c"] and result.row_count == 1
    assert list(rows(path, "tsv", result.headers)) == [(0, {"a": "1", "b,c": "+cmd, 2"})]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "xlsx"])
def test_empty_file(tmp_path, fmt):
    assert error(write(tmp_path, f"d.{fmt}", b""), fmt) == "Data file contains no headers"


@pytest.mark.parametrize("content", ["\n1,2\n", " , \n1,2\n", "\r\n"])
def test_csv_without_headers(tmp_path, content):
    assert error(write(tmp_path, "d.csv", content), "csv") == "Data file contains no headers"


def test_csv_ragged_row(tmp_path):
    path = write(tmp_path, "d.csv", "a,b\n1,2\n1,2,3\n")
    assert error(path, "csv") == "Invalid data file dimensions"


def test_csv_duplicate_column(tmp_path):
    path = write(tmp_path, "d.csv", "name,,qty, name,\n")
    assert error(path, "csv") == "Data file contains duplicate column 'name'"


def test_csv_limits(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c\n1,2,3\n\n4,5,6\n")
    assert scan(path, "csv", Limits(max_rows=2, max_columns=3)).row_count == 2
    assert error(path, "csv", Limits(max_rows=1)) == "Data file contains too many rows"
    assert error(path, "csv", Limits(max_columns=2)) == "Data file contains too many columns"


def test_csv_long_cell(tmp_path):
    path = write(tmp_path, "d.csv", "a,,c\n1,2,3\n\n4,12345,6\n")
    assert scan(path, "csv", Limits(max_cell_chars=5)).row_count == 2
    assert error(path, "csv", Limits(max_cell_chars=4)) == (
        "Data file contains a cell longer than 4 characters (row 3, column 'Column 2')")


@pytest.mark.parametrize("cell", ["x" * 300_000, '"' + 'a""b\n' * 60_000 + '"'])
def test_csv_cell_over_csv_field_limit(tmp_path, cell):
    path = write(tmp_path, "d.csv", f"a,b,c\n1,2,3\n\n4,{cell},6\n7,8,9\n")
    assert error(path, "csv", Limits(max_cell_chars=10)) == (
        "Data file contains a cell longer than 10 characters (row 3, column 'b')")


def test_csv_field_over_limit_in_extra_column(tmp_path):
    path = write(tmp_path, "d.csv", f"a,b\n1,2,{'x' * 300_000}\n")
    assert error(path, "csv", Limits(max_cell_chars=10)) == "Invalid data file dimensions"


@pytest.mark.parametrize("header", ["x" * 20, "x" * 300_000])
def test_csv_long_header(tmp_path, header):
    path = write(tmp_path, "d.csv", f"a,{header}\n1,2\n")
    assert error(path, "csv", Limits(max_cell_chars=10)) == (
        "Data file contains a cell longer than 10 characters (row 0, column 'Column 2')")


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_not_utf8(tmp_path, fmt):
    path = write(tmp_path, f"d.{fmt}", "name\n".encode() + "Größe\n".encode("latin-1"))
    assert error(path, fmt) == "Data file is not UTF-8 text (invalid byte at offset 7)"


def test_not_utf8_far_into_the_file(tmp_path):
    head = "a,b\n" + "1,2\n" * 50_000
    path = write(tmp_path, "d.csv", head.encode() + b"\xe2\x82")  # truncated sequence at end
    assert error(path, "csv") == f"Data file is not UTF-8 text (invalid byte at offset {len(head)})"


def test_csv_nul_byte(tmp_path):
    path = write(tmp_path, "d.csv", b"a,b\n1,\x002\n")
    assert error(path, "csv") == "Unsupported data file format"


def test_missing_file(tmp_path):
    assert error(tmp_path / "gone.csv", "csv") == "Unsupported data file format"


def test_unknown_format(tmp_path):
    path = write(tmp_path, "d.csv", "a\n1\n")
    assert error(path, "xls") == "Unsupported data file format"
    with pytest.raises(DataFileError):
        list(rows(path, "xls", ["a"]))


# -- JSON ----------------------------------------------------------------------------------

def test_json_round_trip(tmp_path):
    items = [{"name": "bolt", "qty": 5, "price": 0.25, "active": True, "note": None},
             {},
             {"name": "  ", "note": None},
             {"qty": 3.0, "name": "nut", "note": {"size": [3, 4.5]}, "active": False}]
    path = write(tmp_path, "d.json", json.dumps(items))
    result = scan(path, "json", Limits())
    assert result == Scan(headers=["name", "qty", "price", "active", "note"],
                          columns=["name", "qty", "price", "active", "note"], row_count=2)
    got = list(rows(path, "json", result.headers))
    assert got == [(0, {"name": "bolt", "qty": 5, "price": 0.25, "active": True, "note": None}),
                   (3, {"name": "nut", "qty": 3.0, "price": None, "active": False,
                        "note": '{"size": [3, 4.5]}'})]
    assert type(got[0][1]["qty"]) is int and type(got[1][1]["qty"]) is float
    assert [index for index, _ in rows(path, "json", result.headers, start=1)] == [3]


def test_json_bom_and_blank_key(tmp_path):
    path = write(tmp_path, "d.json", "\ufeff" + json.dumps([{" a ": 1, "": 2}]))
    result = scan(path, "json", Limits())
    assert (result.headers, result.columns) == (["a", ""], ["a", "Column 2"])
    assert list(rows(path, "json", result.headers)) == [(0, {"a": 1, "": 2})]


@pytest.mark.parametrize("content, message", [
    ("[]", "Data file contains no headers"),
    ("  [{}]", "Data file contains no headers"),
    ('[{"a": 1}, {"a": 2, "b": 3}]', "Invalid data file dimensions"),
    ('[{"a": 1, " a": 2}]', "Data file contains duplicate column 'a'"),
    ('{"a": 1}', "Unsupported data file format"),
    ('[{"a": 1}, 2]', "Unsupported data file format"),
    ('[{"a": 1}, ["x"]]', "Unsupported data file format"),
    ('[{"a": 1}', "Unsupported data file format"),
    ('[{"a": 1}] trailing', "Unsupported data file format"),
    ("not json", "Unsupported data file format"),
    ('[{"a": "' + "x" * 11 + '"}]',
     "Data file contains a cell longer than 10 characters (row 1, column 'a')"),
    ('[{"a": 1}, {"a": [1, 2, 3, 4]}]',
     "Data file contains a cell longer than 10 characters (row 2, column 'a')"),
])
def test_json_errors(tmp_path, content, message):
    assert error(write(tmp_path, "d.json", content), "json", Limits(max_cell_chars=10)) == message


def test_json_limits(tmp_path):
    path = write(tmp_path, "d.json", json.dumps([{"a": 1, "b": 2}, {"a": None}, {"b": 3}]))
    assert scan(path, "json", Limits(max_rows=2)).row_count == 2
    assert error(path, "json", Limits(max_rows=1)) == "Data file contains too many rows"
    assert error(path, "json", Limits(max_columns=1)) == "Data file contains too many columns"


def test_json_not_utf8(tmp_path):
    path = write(tmp_path, "d.json", b'[{"a": "Gr\xf6\xdfe"}]')
    assert error(path, "json") == "Data file is not UTF-8 text (invalid byte at offset 10)"


# -- XLSX ----------------------------------------------------------------------------------

def test_xlsx_round_trip(tmp_path):
    path = write_xlsx(tmp_path, [
        ["name", None, " qty ", 2024],
        ["bolt", "=SUM(C2:C3)", 2.5, True],
        [None, None, None, None],
        [],
        ["nut", datetime.date(2024, 5, 6), 7, None, None],
        [None, datetime.datetime(2024, 5, 6, 7, 8, 9), 0.5],
        [" ", datetime.time(12, 30)],
    ])
    result = scan(path, "xlsx", Limits())
    assert result == Scan(headers=["name", "", "qty", "2024"],
                          columns=["name", "Column 2", "qty", "2024"], row_count=4)
    got = list(rows(path, "xlsx", result.headers))
    assert got == [
        (0, {"name": "bolt", "": "=SUM(C2:C3)", "qty": 2.5, "2024": True}),
        (3, {"name": "nut", "": "2024-05-06T00:00:00", "qty": 7, "2024": None}),
        (4, {"name": None, "": "2024-05-06T07:08:09", "qty": 0.5, "2024": None}),
        (5, {"name": " ", "": "12:30:00", "qty": None, "2024": None}),
    ]
    assert [index for index, _ in rows(path, "xlsx", result.headers, start=2)] == [3, 4, 5]


def test_xlsx_trailing_header_blanks_and_extra_cells(tmp_path):
    path = write_xlsx(tmp_path, [["a", "b", None, None], [1, 2, None, None]])
    assert scan(path, "xlsx", Limits()).headers == ["a", "b"]
    path = write_xlsx(tmp_path, [["a", "b", None], [1, 2, 3]])
    assert error(path, "xlsx") == "Invalid data file dimensions"


@pytest.mark.parametrize("table, limits, message", [
    ([], Limits(), "Data file contains no headers"),
    ([[None, " "], [1, 2]], Limits(), "Data file contains no headers"),
    ([["a", "b", "a"]], Limits(), "Data file contains duplicate column 'a'"),
    ([["a", "b", "c"]], Limits(max_columns=2), "Data file contains too many columns"),
    ([["a"], [1], [None], [2]], Limits(max_rows=1), "Data file contains too many rows"),
    ([["a", None], [1, "x" * 11]], Limits(max_cell_chars=10), "Invalid data file dimensions"),
    ([["a", None, "c"], [1, "x" * 11]], Limits(max_cell_chars=10),
     "Data file contains a cell longer than 10 characters (row 1, column 'Column 2')"),
])
def test_xlsx_errors(tmp_path, table, limits, message):
    assert error(write_xlsx(tmp_path, table), "xlsx", limits) == message


@pytest.mark.parametrize("content", [b"not a zip file", b"PK\x03\x04broken"])
def test_xlsx_corrupt(tmp_path, content):
    assert error(write(tmp_path, "d.xlsx", content), "xlsx") == "Unsupported data file format"


def test_xlsx_not_a_workbook(tmp_path):
    import zipfile
    path = tmp_path / "d.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert error(path, "xlsx") == "Unsupported data file format"


def open_handles(path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    fds = "/proc/self/fd"
    return sum(os.path.realpath(os.path.join(fds, fd)) == str(path) for fd in os.listdir(fds))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_xlsx_workbook_closed_on_early_exit(tmp_path):
    path = write_xlsx(tmp_path, [["a"]] + [[n] for n in range(10)]).resolve()
    iterator = rows(path, "xlsx", ["a"])
    assert next(iterator) == (0, {"a": 0})
    assert open_handles(path) == 1
    iterator.close()
    assert open_handles(path) == 0
    error(write_xlsx(tmp_path, [["a", "a"]]), "xlsx")
    assert open_handles(path) == 0


# -- bounded memory ------------------------------------------------------------------------

def peaks_reading(path, count: int) -> tuple[int, int]:
    """The peak memory (bytes, tracemalloc) of scanning a CSV file of `count` rows, and of
    reading all its rows after that; checks what they read."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "qty", "note"])
        writer.writerows((f"part-{n}", n, "a note") for n in range(count))
    tracemalloc.start()
    try:
        result = scan(path, "csv", Limits())
        scan_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        last = None
        for last in rows(path, "csv", result.headers):  # noqa: B007  (read after the loop)
            pass
        rows_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.row_count == count
    assert last == (count - 1, {"name": f"part-{count - 1}", "qty": str(count - 1),
                                "note": "a note"})
    return scan_peak, rows_peak


def test_memory_does_not_grow_with_rows(tmp_path):
    """Ten times the rows take no more memory to scan or read: keeping the 36,000 extra rows
    (or even one small object per row) would add megabytes to the peak. (Was 300,000 rows
    under a fixed 20 MB bound: twelve seconds for the same proof.)"""
    small = peaks_reading(tmp_path / "small.csv", 4_000)
    big = peaks_reading(tmp_path / "big.csv", 40_000)
    assert big[0] - small[0] < 500_000 and big[1] - small[1] < 500_000, (small, big)
    assert max(big) < 20_000_000


# -- hostile files -------------------------------------------------------------------------

def test_json_nesting_is_refused_in_bounded_memory(tmp_path):
    """Brackets nested 40,000 deep: ijson's path prefixes took memory growing with the
    square of the depth (a 400 KB file took 23 GB); now the 33rd level is refused."""
    path = write(tmp_path, "deep.json", "[" * 40_000 + "]" * 40_000)
    tracemalloc.start()
    try:
        assert error(path, "json") == "Data file is nested too deeply (more than 32 levels)"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


@pytest.mark.parametrize("cell, ok", [([[1]], True), ([[[1]]], False), ({"a": {"b": 1}}, True),
                                      ({"a": {"b": [1]}}, False)])
def test_json_nesting_limit_counts_every_level(tmp_path, cell, ok):
    """The top-level array is level 1 and each row object level 2."""
    path = write(tmp_path, "d.json", json.dumps([{"code": "A", "x": cell}]))
    limits = Limits(max_json_depth=4)
    if ok:
        assert list(rows(path, "json", ["code", "x"])) == [
            (0, {"code": "A", "x": json.dumps(cell)})]
        assert scan(path, "json", limits).row_count == 1
    else:
        assert error(path, "json", limits) == (
            "Data file is nested too deeply (more than 4 levels)")


def test_xlsx_shared_strings_are_counted_before_loading(tmp_path):
    """A million shared strings zipped into a few kilobytes (openpyxl took 16 s to load
    them) are refused after counting, without being kept."""
    path = write(tmp_path, "bomb.xlsx", shared_strings_xlsx(1_000_000))
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        assert error(path, "xlsx") == (
            "Data file contains too many shared strings (more than 250000)")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024
    few = write(tmp_path, "few.xlsx", shared_strings_xlsx(3, b"s"))
    assert error(few, "xlsx", Limits(max_shared_strings=2)) == (
        "Data file contains too many shared strings (more than 2)")
    assert scan(few, "xlsx", Limits(max_shared_strings=3)).row_count == 1
