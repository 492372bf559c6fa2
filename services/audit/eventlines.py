"""Each recorded event's JSON text, rendered once when it is recorded and stored with it
(`audit_event.line`), so that the export joins text instead of encoding objects.

A line is the event as the list renders it, without `pk` (the row id, drawn by the insert),
in compact JSON with the payload last and its keys sorted:
`{"id":"status:12","service":"status",...,"created":"...Z","payload":{...}}`. The export's
NDJSON line is `{"pk":<id>,` followed by the line after its `{`; its CSV row takes the
payload's text from the line as it is (a `"` inside a JSON string is always escaped, so the
first `,"payload":` is the key, and the time just before it holds no `"`). Rows recorded
before lines were stored (revision 0007) have none, and are rendered from their columns,
the same way.
"""
import csv
import io
import json

from svckit.csvsafe import safe

# the export's CSV columns, in order
CSV_COLUMNS = ("pk", "id", "service", "seq", "stream_type", "stream_id", "version", "type",
               "actor", "request_id", "created", "payload")
CSV_HEADER = ",".join(CSV_COLUMNS) + "\r\n"
# the columns `csv_rows` reads (the time and the payload from the line)
CSV_SOURCES = ("id", "event_id", "service", "seq", "stream_type", "stream_id", "version",
               "type", "actor", "request_id", "line")
_PAYLOAD_KEY = ',"payload":'
_CREATED_KEY = '"created":"'
# the fields a line holds, in order (the payload after them)
_HEAD = ("id", "service", "seq", "stream_type", "stream_id", "version", "type", "actor",
         "request_id", "created")


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one for every line


def _compact(value) -> str:
    return _COMPACT.encode(value)


def line(event: dict, payload_text: str | None = None) -> str:
    """The stored text of a rendered event (`auditevents.render`'s fields; `pk` is left
    out). `payload_text`: the payload's text as the line holds it (sorted keys, compact:
    svckit.hashchain.canonical_text), when the caller made it already."""
    head = _compact({name: event[name] for name in _HEAD})
    if payload_text is None:
        payload_text = json.dumps(event["payload"], ensure_ascii=False, separators=(",", ":"),
                                  sort_keys=True)
    return f"{head[:-1]}{_PAYLOAD_KEY}{payload_text}}}"


def ndjson(rows) -> str:
    """NDJSON text of (row id, line) pairs: one event a line, with its `pk`."""
    return "".join([f'{{"pk":{pk},{text[1:]}\n' for pk, text in rows])


def csv_rows(rows) -> str:
    """CSV rows (CSV_COLUMNS, no header) of rows of CSV_SOURCES; cells that may hold text
    from a client (stream, actor, request id, the type) are neutralised against formulas
    (svckit.csvsafe); the others are names from the code, numbers and times, and the
    payload is a JSON object."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for pk, event_id, service, seq, stream_type, stream_id, version, kind, actor, \
            request_id, text in rows:
        at = text.index(_PAYLOAD_KEY)
        created = text[text.rindex(_CREATED_KEY, 0, at) + len(_CREATED_KEY):at - 1]
        writer.writerow((pk, event_id, service, seq, safe(stream_type), safe(stream_id),
                         version, safe(kind), safe(actor), safe(request_id), created,
                         text[at + len(_PAYLOAD_KEY):-1]))
    return buffer.getvalue()
