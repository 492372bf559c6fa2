"""`?export=csv|tsv|json|xlsx` on list endpoints (SEMANTICS §1.13)."""
import csv
import io
import json
from datetime import date

from svckit.errors import ValidationFailed

FORMATS = ("csv", "tsv", "json", "xlsx")


def check_format(value: str) -> str:
    fmt = (value or "").lower()
    if fmt not in FORMATS:
        raise ValidationFailed({"export": ["Invalid export format"]})
    return fmt


def render(fmt: str, model_name: str, fields: dict, rows: list[dict]) -> tuple[bytes, str]:
    """(file bytes, file name); columns are the readable fields, headed by their labels."""
    names = list(fields)
    labels = [fields[n].get("label", n) for n in names]
    filename = f"InvenTree_{model_name}_{date.today().isoformat()}.{fmt}"
    if fmt == "json":
        data = json.dumps([{lbl: r.get(n) for n, lbl in zip(names, labels)} for r in rows],
                          indent=4).encode()
    elif fmt == "xlsx":
        from openpyxl import Workbook
        book = Workbook(write_only=True)
        sheet = book.create_sheet(model_name)
        sheet.append(labels)
        for r in rows:
            sheet.append([_cell(r.get(n)) for n in names])
        buffer = io.BytesIO()
        book.save(buffer)
        data = buffer.getvalue()
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",",
                            lineterminator="\r\n")
        writer.writerow(labels)
        for r in rows:
            writer.writerow([_text(r.get(n)) for n in names])
        data = buffer.getvalue().encode()
    return data, filename


def _text(value):
    return "" if value is None else value


def _cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never let a spreadsheet evaluate a cell
    return value


def send_export(req, resp, fmt, model_name, fields, rows):
    data, filename = render(fmt, model_name, fields, rows)
    resp.status = 200
    resp.content_type = "application/text"
    resp.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    resp.data = data
