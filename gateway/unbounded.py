"""Lists asked for without `limit` (or with `limit=0`): InvenTree answers every row as a bare
JSON array, and its clients rely on it. The gateway keeps that answer but fetches it from the
service in pages of CHUNK rows. A list of up to HELD_ROWS rows is fetched whole before the
answer starts, so a failure on any page (the broker or the service gone) is still answered
with its own status (503); a longer one streams out as it goes after those first rows, so
neither an RPC message nor the gateway ever holds the whole list, and a failure after the
answer has started can only cut it short (the array and the chunked body left unfinished,
which a client sees as a broken response). At most `max_rows` (LIST_MAX_ROWS) rows are sent;
the header `X-Total-Count` always tells how many rows matched, and `X-Truncated` (the cap)
says that the array stops short of them (page with `limit`/`offset` to get the rest)."""
import itertools
import json

from gateway import http
from svckit.listing import parse_int

CHUNK = 1000
HELD_ROWS = 10 * CHUNK


def wants_everything(params: dict) -> bool:
    """No `limit`, an empty one or 0: DRF's 'no paging'. Anything else is the service's to
    check (a bad value is its 400)."""
    raw = params.get("limit")
    return raw is None or str(raw).strip() == "" or parse_int(raw) == 0


def send_all(resp, fetch, max_rows: int):
    """Answer every row of a list, at most `max_rows` of them, as a bare array;
    `fetch(limit, offset)` answers one page (`{"count", "results", ...}`)."""
    first = fetch(min(CHUNK, max_rows) or 1, 0)
    if "count" not in first:  # a list the service never pages
        return http.send(resp, first["results"])
    total = cap(resp, first["count"], max_rows)
    row_pages = pages(first["results"], fetch, total)
    held: list[list] = []
    held_rows = 0
    for rows in row_pages:
        held.append(rows)
        held_rows += len(rows)
        if held_rows >= HELD_ROWS:
            break
    else:  # every row is held: one body, sent once nothing can fail any more
        return http.send(resp, [row for rows in held for row in rows])
    resp.status = 200
    resp.content_type = http.JSON
    resp.stream = _stream(itertools.chain(held, row_pages))


def cap(resp, count: int, max_rows: int) -> int:
    """How many of `count` matching rows are sent (at most `max_rows`), said in the headers
    `X-Total-Count` and, when rows are left out, `X-Truncated`."""
    resp.set_header("X-Total-Count", str(count))
    if count > max_rows:
        resp.set_header("X-Truncated", str(max_rows))
    return min(count, max_rows)


def pages(rows: list, fetch, total: int):
    """Lists of rows: `rows` (the first page), then `fetch(CHUNK, offset)`'s; stops at
    `total` rows or when a page comes back empty (rows deleted meanwhile)."""
    sent = 0
    while rows:
        rows = rows[:total - sent]
        yield rows
        sent += len(rows)
        if sent >= total:
            break
        rows = fetch(CHUNK, sent)["results"]


def _stream(row_pages):
    """The JSON array, one page at a time."""
    yield b"["
    sent = False
    for rows in row_pages:
        chunk = b",".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
                          for row in rows)
        yield (b"," if sent else b"") + chunk
        sent = True
    yield b"]"
