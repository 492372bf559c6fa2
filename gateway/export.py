"""`?export=csv|tsv|json|xlsx` on list endpoints (SEMANTICS §1.13).

Columns are the list's fields in order, headed by their labels, without nested objects (as
InvenTree's export leaves out nested serializers such as `responsible_detail`). Text that a
spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
return) is written with a leading `'` in every format; numbers, and text that is only a
number such as "-5", stay as they are.
"""
import csv
import io
import json
import re
from datetime import date

from svckit.errors import ValidationFailed

FORMATS = ("csv", "tsv", "json", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


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
    """(file bytes, file name)."""
    cols = columns(fields)
    names = [n for n, _ in cols]
    labels = [lbl for _, lbl in cols]
    filename = f"InvenTree_{model_name}_{date.today().isoformat()}.{fmt}"
    table = [[safe(r.get(n)) for n in names] for r in rows]
    if fmt == "json":
        data = json.dumps([dict(zip(labels, cells)) for cells in table], indent=4).encode()
    elif fmt == "xlsx":
        from openpyxl import Workbook
        book = Workbook(write_only=True)
        sheet = book.create_sheet(model_name)
        sheet.append(labels)
        for cells in table:
            sheet.append([json.dumps(c) if isinstance(c, (dict, list)) else c for c in cells])
        binary = io.BytesIO()
        book.save(binary)
        data = binary.getvalue()
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",",
                            lineterminator="\r\n")
        writer.writerow(labels)
        for cells in table:
            writer.writerow(["" if c is None else c for c in cells])
        data = buffer.getvalue().encode()
    return data, filename


def safe(value):
    """`value`, with text a spreadsheet would evaluate turned into plain text; a plain
    number written as text ("-5", "+1.5") is harmless and stays as it is."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def send_export(req, resp, fmt, model_name, fields, rows):
    data, filename = render(fmt, model_name, fields, rows)
    resp.status = 200
    resp.content_type = "application/text"
    resp.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    resp.data = data
