"""Uploaded data files (CSV, TSV, JSON, XLSX) for the importer, read from a local path.

Files are streamed record by record, so memory stays bounded whatever the row count.
`scan()` reads a file once and checks everything an import needs, raising `DataFileError`
with InvenTree 264's messages; `rows()` then yields its non-empty data rows.
"""
import codecs
import csv
import datetime
import itertools
import json
import os
import xml.parsers.expat
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath
from typing import Iterator

import ijson

FORMATS = ("csv", "xlsx", "tsv", "json")

NO_HEADERS = "Data file contains no headers"
TOO_MANY_COLUMNS = "Data file contains too many columns"
TOO_MANY_ROWS = "Data file contains too many rows"
BAD_DIMENSIONS = "Invalid data file dimensions"
UNSUPPORTED = "Unsupported data file format"
NOT_UTF8 = "Data file is not UTF-8 text"
TOO_DEEP = "Data file is nested too deeply (more than {} levels)"
TOO_MANY_STRINGS = "Data file contains too many shared strings (more than {})"

_DELIMITERS = {"csv": ",", "tsv": "\t"}
_PAD = {"csv": "", "tsv": "", "json": None, "xlsx": None}  # a short row's missing cells
_CHUNK = 1 << 16


class DataFileError(ValueError):
    """A file that cannot be imported; str(exc) is the user-facing message."""


class _LongCell(DataFileError):
    """A CSV field over the csv module's limit, at 0-based `column` of the current record."""

    def __init__(self, column: int):
        super().__init__("Data file contains a cell that is too long")
        self.column = column


@dataclass(frozen=True)
class Limits:
    max_rows: int = 5_000_000        # data rows (not counting the header)
    max_columns: int = 1000
    max_cell_chars: int = 65_536     # longest cell text
    max_json_depth: int = 32         # nested arrays/objects, the top-level array is 1
    max_shared_strings: int = 250_000  # an XLSX workbook's shared string table
    # a process's come from its settings (ImporterSettings.limits: IMPORT_MAX_*)


@dataclass
class Scan:
    headers: list[str]   # the raw header cells as strings (None/blank -> "")
    columns: list[str]   # display names: a blank header becomes f"Column {n}" (1-based)
    row_count: int       # data rows that are not completely empty


def file_format(filename: str) -> str:
    """The format named by the file's extension (case-insensitive), as Django validates it."""
    extension = PurePath(filename).suffix[1:].lower()
    if extension not in FORMATS:
        raise DataFileError(f"File extension “{extension}” is not allowed. "
                            f"Allowed extensions are: {', '.join(FORMATS)}.")
    return extension


def scan(path, fmt: str, limits: Limits) -> Scan:
    """Read the whole file once, streaming, and check everything an import needs; raise
    DataFileError for the first problem."""
    with closing(_table(path, fmt, limits)) as table:
        try:
            headers = _headers(next(table, None), limits)
        except _LongCell as exc:
            raise _cell_error(limits.max_cell_chars, 0, f"Column {exc.column + 1}") from None
        columns = _columns(headers)
        row_count = _count_rows(table, columns, _PAD[fmt], limits)
    return Scan(headers=headers, columns=columns, row_count=row_count)


def rows(path, fmt: str, headers: list[str], start: int = 0,
         limits: Limits = Limits()) -> Iterator[tuple[int, dict]]:
    """(row_index, {header: cell}) for every non-empty data row with row_index >= start, in
    file order; row_index is the 0-based position among all data rows. Use after scan()."""
    pad = _PAD.get(fmt)
    with closing(_table(path, fmt, limits)) as table:
        next(table, None)
        for index, record in itertools.islice(enumerate(table), start, None):
            cells = _fit(record, len(headers), pad)
            if not _is_empty(cells):
                yield index, dict(zip(headers, cells))


# -- checks shared by every format ---------------------------------------------------------

def _headers(record, limits: Limits) -> list[str]:
    """The header record as stripped strings, checked (row 0 in a cell message)."""
    headers = ["" if cell is None else str(cell).strip() for cell in record or ()]
    if not any(headers):
        raise DataFileError(NO_HEADERS)
    if len(headers) > limits.max_columns:
        raise DataFileError(TOO_MANY_COLUMNS)
    seen = set()
    for name in filter(None, headers):
        if name in seen:
            raise DataFileError(f"Data file contains duplicate column '{name}'")
        seen.add(name)
    _check_cells(headers, 0, [f"Column {n}" for n in range(1, len(headers) + 1)],
                 limits.max_cell_chars)
    return headers


def _columns(headers: list[str]) -> list[str]:
    """Display names: a blank header is named after its 1-based position."""
    return [name or f"Column {n}" for n, name in enumerate(headers, 1)]


def _count_rows(table: Iterator[list], columns: list[str], pad, limits: Limits) -> int:
    """Check every data record; the number of non-empty ones."""
    row_count = 0
    index = -1
    try:
        for index, record in enumerate(table):
            cells = _fit(record, len(columns), pad)
            if _is_empty(cells):
                continue
            row_count += 1
            if row_count > limits.max_rows:
                raise DataFileError(TOO_MANY_ROWS)
            _check_cells(cells, index + 1, columns, limits.max_cell_chars)
    except _LongCell as exc:
        if exc.column >= len(columns):
            raise DataFileError(BAD_DIMENSIONS) from None
        raise _cell_error(limits.max_cell_chars, index + 2, columns[exc.column]) from None
    return row_count


def _fit(record: list, width: int, pad) -> list:
    """The record padded to `width` cells; a longer record is an error."""
    missing = width - len(record)
    if missing < 0:
        raise DataFileError(BAD_DIMENSIONS)
    return record + [pad] * missing if missing else record


def _is_empty(cells: list) -> bool:
    """True when every cell is None or blank text."""
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _check_cells(cells: list, row: int, columns: list[str], limit: int) -> None:
    """Reject a text cell longer than `limit` characters."""
    for column, cell in zip(columns, cells):
        if isinstance(cell, str) and len(cell) > limit:
            raise _cell_error(limit, row, column)


def _cell_error(limit: int, row: int, column: str) -> DataFileError:
    """A too-long cell in 1-based data `row` (0 for the header row) of `column`."""
    return DataFileError(f"Data file contains a cell longer than {limit} characters "
                         f"(row {row}, column '{column}')")


# -- reading records -----------------------------------------------------------------------

def _table(path, fmt: str, limits: Limits) -> Iterator[list]:
    """The file's records as lists of cells, header record first (nothing for an empty
    file); any parsing failure becomes a DataFileError."""
    try:
        if os.path.getsize(path) == 0:
            return
        if fmt in _DELIMITERS:
            yield from _csv_records(path, _DELIMITERS[fmt], limits.max_cell_chars)
        elif fmt == "json":
            yield from _json_records(path, limits.max_json_depth)
        elif fmt == "xlsx":
            _check_shared_strings(path, limits.max_shared_strings)
            yield from _xlsx_records(path)
        else:
            raise DataFileError(UNSUPPORTED)
    except (DataFileError, MemoryError):
        raise
    except Exception as exc:
        raise DataFileError(_failure_message(path, fmt)) from exc


def _failure_message(path, fmt: str) -> str:
    """Why a file failed to parse: not UTF-8 text, else an unsupported format."""
    try:
        offset = None if fmt == "xlsx" else _utf8_error_offset(path)
    except OSError:
        return UNSUPPORTED
    if offset is None:
        return UNSUPPORTED
    return f"{NOT_UTF8} (invalid byte at offset {offset})"


def _utf8_error_offset(path):
    """Byte offset of the first invalid UTF-8 sequence in the file, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            if not chunk:
                return None
            offset += len(chunk)


def _open_text(path):
    """The file as strict UTF-8 text (a leading BOM dropped), newlines untranslated."""
    return open(path, encoding="utf-8-sig", errors="strict", newline="")


def _csv_records(path, delimiter: str, cell_limit: int) -> Iterator[list[str]]:
    """CSV/TSV records; a field over the csv module's limit raises _LongCell."""
    csv.field_size_limit(max(csv.field_size_limit(), cell_limit + 1))
    with _open_text(path) as f:
        reader = csv.reader(_without_nul(f), delimiter=delimiter)
        record_line = 0
        try:
            for record in reader:
                yield record
                record_line = reader.line_num
        except csv.Error as exc:
            if "field larger than field limit" not in str(exc):
                raise
            raise _LongCell(_long_field(path, delimiter, record_line, cell_limit)) from None


def _without_nul(lines: Iterator[str]) -> Iterator[str]:
    """The lines, rejecting NUL characters (the csv module accepts them since Python 3.11)."""
    for line in lines:
        if "\x00" in line:
            raise DataFileError(UNSUPPORTED)
        yield line


def _long_field(path, delimiter: str, skip_lines: int, limit: int) -> int:
    """0-based position of the first field longer than `limit` in the CSV record starting
    after `skip_lines` lines, found by reading characters in bounded chunks."""
    position = length = 0
    state = "start"  # of a field; "plain" or "quoted" field; "quote" seen in a quoted one
    with _open_text(path) as f:
        for _ in itertools.islice(f, skip_lines):
            pass
        for char in itertools.chain.from_iterable(iter(partial(f.read, _CHUNK), "")):
            if state == "quoted":
                if char == '"':
                    state = "quote"
                    continue
            elif char == delimiter:
                position, length, state = position + 1, 0, "start"
                continue
            elif char in "\r\n":
                break
            elif char == '"' and state == "start":
                state = "quoted"
                continue
            else:
                state = "quoted" if state == "quote" and char == '"' else "plain"
            length += 1
            if length > limit:
                break
    return position


def _json_records(path, max_depth: int) -> Iterator[list]:
    """A top-level array of objects: its first object's keys, then each object's values."""
    with open(path, "rb") as f:
        if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            f.seek(0)
        start = f.tell()
        if not f.read(_CHUNK).lstrip().startswith(b"["):
            raise DataFileError(UNSUPPORTED)
        f.seek(start)
        keys = None
        for item in _json_items(f, max_depth):
            if not isinstance(item, dict):
                raise DataFileError(UNSUPPORTED)
            if keys is None:
                keys = list(item)
                yield keys
            elif not item.keys() <= set(keys):
                raise DataFileError(BAD_DIMENSIONS)
            yield [_json_cell(item.get(key)) for key in keys]


def _json_items(f, max_depth: int) -> Iterator:
    """The elements of the top-level array, built from ijson's basic events (ijson's own
    builders keep a path prefix per level, memory that grows with the square of the depth);
    nesting deeper than `max_depth` (the top-level array counting 1) is refused."""
    events = ijson.basic_parse(f, use_float=True)
    if next(events, (None, None))[0] != "start_array":
        raise DataFileError(UNSUPPORTED)
    stack: list[list] = []  # [container, pending map key] of each open container
    for event, value in events:
        if event == "map_key":
            stack[-1][1] = value
            continue
        if event in ("start_map", "start_array"):
            if len(stack) + 2 > max_depth:
                raise DataFileError(TOO_DEEP.format(max_depth))
            stack.append([{} if event == "start_map" else [], None])
            continue
        if event in ("end_map", "end_array"):
            if not stack:  # the end of the top-level array: nothing may follow
                for _ in events:
                    raise DataFileError(UNSUPPORTED)
                return
            value = stack.pop()[0]
        if not stack:
            yield value
        elif isinstance(stack[-1][0], dict):
            stack[-1][0][stack[-1][1]] = value
        else:
            stack[-1][0].append(value)
    raise DataFileError(UNSUPPORTED)  # the array never ended


def _json_cell(value):
    """A JSON scalar as is; a nested list or object as its JSON text."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _xlsx_records(path) -> Iterator[list]:
    """The first worksheet's rows as JSON-safe values, trailing empty cells dropped;
    formulas are kept as their text."""
    import openpyxl  # imported when needed: a scan of a CSV starts faster without it

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            record = [_xlsx_cell(value) for value in values]
            while record and record[-1] is None:
                record.pop()
            yield record
    finally:
        workbook.close()


def _check_shared_strings(path, limit: int) -> None:
    """Count the workbook's shared strings (the part openpyxl would load whole, where a
    few kilobytes can zip a million empty strings) without keeping them; refuse more than
    `limit`."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.xml.constants import SHARED_STRINGS

    reader = ExcelReader(path, read_only=True)
    try:
        reader.read_manifest()
        part = reader.package.find(SHARED_STRINGS)
        if part is None:
            return
        count = 0

        def start(name, attrs):
            nonlocal count
            if name == "si" or name.endswith(" si"):
                count += 1
                if count > limit:
                    raise DataFileError(TOO_MANY_STRINGS.format(limit))

        parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = start
        with reader.archive.open(part.PartName.lstrip("/")) as f:
            parser.ParseFile(f)
    finally:
        reader.archive.close()


def _xlsx_cell(value):
    """An openpyxl value as a JSON-safe value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    from openpyxl.worksheet.formula import ArrayFormula

    if isinstance(value, ArrayFormula):
        return value.text
    return str(value)
