"""`?export=csv|tsv|json|xlsx` on list endpoints (SEMANTICS §1.13).

Columns are the list's fields in order, headed by their labels, without nested objects (as
InvenTree's export leaves out nested serializers such as `responsible_detail`). Text that a
spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
return) is written with a leading `'` in every format; numbers, and text that is only a
number such as "-5", stay as they are.
"""
import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from typing import IO

from gateway import unbounded
from svckit.csvsafe import safe
from svckit.errors import ValidationFailed

FORMATS = ("csv", "tsv", "json", "xlsx")


def check_format(value: str) -> str:
    fmt = (value or "").lower()
    if fmt not in FORMATS:
        raise ValidationFailed({"export": ["Invalid export format"]})
    return fmt


def columns(fields: dict) -> list[tuple[str, str]]:
    """(field name, column title) of the exported fields."""
    return [(name, info.get("label", name)) for name, info in fields.items()
            if info.get("type") != "nested object" and not info.get("write_only")]


def render(fmt: str, model_name: str, fields: dict, rows: list[dict]) -> tuple[bytes, str]:
    """(file bytes, file name) of `rows` at once."""
    if fmt == "xlsx":
        with xlsx_file(model_name, fields, [rows]) as spooled:
            return spooled.read(), file_name(fmt, model_name)
    return b"".join(text_chunks(fmt, fields, [rows])), file_name(fmt, model_name)


def file_name(fmt: str, model_name: str) -> str:
    return f"InvenTree_{model_name}_{date.today().isoformat()}.{fmt}"


def _cells(names: list[str], row: dict) -> list:
    return [safe(row.get(n)) for n in names]


def text_chunks(fmt: str, fields: dict, row_pages: Iterable[list[dict]]) -> Iterator[bytes]:
    """The csv, tsv or json file, one piece per page of rows (the same bytes as writing all
    rows at once)."""
    cols = columns(fields)
    names = [n for n, _ in cols]
    labels = [lbl for _, lbl in cols]
    if fmt == "json":  # json.dumps(all rows, indent=4), an object at a time
        yield b"["
        sent = False
        for rows in row_pages:
            objects = [json.dumps([dict(zip(labels, _cells(names, r)))], indent=4)[1:-2]
                       for r in rows]
            yield (("," if sent and objects else "") + ",".join(objects)).encode()
            sent = sent or bool(objects)
        yield b"\n]" if sent else b"]"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\r\n")
    writer.writerow(labels)
    for rows in row_pages:
        for row in rows:
            writer.writerow(["" if c is None else c for c in _cells(names, row)])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():  # no page at all: the titles alone
        yield buffer.getvalue().encode()


def xlsx_file(model_name: str, fields: dict, row_pages: Iterable[list[dict]]) -> IO[bytes]:
    """The xlsx file in a temporary file (openpyxl's write-only workbook keeps its rows on
    disk too), read from its start; closing it removes it."""
    from openpyxl import Workbook
    cols = columns(fields)
    names = [n for n, _ in cols]
    book = Workbook(write_only=True)
    sheet = book.create_sheet(model_name)
    spooled = tempfile.TemporaryFile()
    try:
        sheet.append([lbl for _, lbl in cols])
        for rows in row_pages:
            for row in rows:
                sheet.append([json.dumps(c) if isinstance(c, (dict, list)) else c
                              for c in _cells(names, row)])
        book.save(spooled)
    except BaseException:  # a page failed: remove the sheet's file too, not at exit only
        spooled.close()
        _discard(sheet)
        raise
    spooled.seek(0)
    return spooled


def _discard(sheet):
    """Close and remove the temporary file of a write-only sheet that will not be saved."""
    with contextlib.suppress(Exception):
        sheet.close()
        sheet._writer.cleanup()


def send_export(resp, fmt: str, model_name: str, answer: dict, fetch, max_rows: int):
    """Answer the export file. `answer` is the service's export RPC answer: the list's
    `fields`, its first page of `rows` and the `count` of matching rows; `fetch(limit,
    offset)` answers the following pages (`{"results": [...]}`). At most `max_rows`
    (LIST_MAX_ROWS) rows, with `X-Total-Count`/`X-Truncated` as unpaged lists have; csv, tsv
    and json are streamed as pages arrive, xlsx is written to a temporary file first."""
    rows = answer["rows"]
    total = min(answer["count"], max_rows) if "count" in answer else len(rows)
    row_pages = unbounded.pages(rows, fetch, total)
    spooled = xlsx_file(model_name, answer["fields"], row_pages) if fmt == "xlsx" else None
    if "count" in answer:  # after the xlsx is written: a failed page answers without them
        unbounded.cap(resp, answer["count"], max_rows)
    resp.status = 200
    resp.content_type = "application/text"
    resp.set_header("Content-Disposition",
                    f'attachment; filename="{file_name(fmt, model_name)}"')
    if spooled is not None:
        resp.set_stream(spooled, os.fstat(spooled.fileno()).st_size)
    elif len(rows) >= total:  # one page: a plain body with its length
        resp.data = b"".join(text_chunks(fmt, answer["fields"], row_pages))
    else:
        resp.stream = text_chunks(fmt, answer["fields"], row_pages)
