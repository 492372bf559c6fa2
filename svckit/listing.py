"""List endpoints' shared rules: paging (limit/offset), ordering and search (SEMANTICS §1.3-1.4).

The gateway passes the query string through as a dict; services call `run_list()` with
their SQLAlchemy statement and the fields they allow. The answer is `{"results": [...]}`,
plus `count` when paging was asked for; the gateway adds the envelope and absolute links.
The limits of a search (`SEARCH_MAX_TERMS`, `SEARCH_MAX_CHARS`) come with the unit of work:
the service's `Database` is made with its process's `SearchLimits` (svckit.db).
"""
import re
from dataclasses import dataclass

from sqlalchemy import String, and_, cast, func, or_, select

from svckit.errors import NotFound, ValidationFailed

MAX_LIMIT = 10000
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1  # what a database integer column can be compared with
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}
_INTEGER = re.compile(r"[+-]?\d+")
SEARCH_LIMITS = "search_limits"  # the execution option of a unit of work that carries them


@dataclass(frozen=True)
class SearchLimits:
    """A search costs a scan per term: at most `max_terms` terms and `max_chars`
    characters are accepted (400 on `search` otherwise)."""

    max_terms: int = 20
    max_chars: int = 200


def parse_int(raw) -> int | None:
    """An integer written in decimal (surrounding spaces allowed), or None. Never calls int()
    on more than 40 characters, so a 5,000-digit number costs nothing (and cannot hit
    Python's int-conversion limit)."""
    text = str(raw).strip()
    if not _INTEGER.fullmatch(text):
        return None
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 40:  # far outside any column's range; keep only the sign
        return INT64_MIN * 2 if text.startswith("-") else INT64_MAX * 2
    return int(text)


def check_range(name: str, value: int, minimum: int = INT64_MIN, maximum: int = INT64_MAX):
    """DRF's 400 naming the field when `value` is outside [minimum, maximum]."""
    if value < minimum:
        raise ValidationFailed({name: [f"Ensure this value is greater than or equal to {minimum}."]})
    if value > maximum:
        raise ValidationFailed({name: [f"Ensure this value is less than or equal to {maximum}."]})
    return value


def _int_param(params: dict, name: str, minimum: int, maximum: int = INT64_MAX):
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    value = parse_int(raw)
    if value is None:
        raise ValidationFailed({name: ["A valid integer is required."]})
    return check_range(name, value, minimum, maximum)


def paging(params: dict, default_limit: int | None = None,
           max_limit: int = MAX_LIMIT) -> tuple[int | None, int]:
    """(limit, offset); limit None means 'answer a bare array'. `default_limit`: the page
    size when `limit` is missing or 0 (lists that are always paged)."""
    limit = _int_param(params, "limit", 0, max_limit)
    offset = _int_param(params, "offset", 0) or 0
    if limit == 0:  # DRF treats limit=0 as 'no paging'
        limit = None
    if limit is None:
        limit = default_limit
    return limit, offset


def number_param(params: dict, name: str) -> int | None:
    """django-filter NumberFilter on an integer column: None when absent or empty, else the
    number, a 400 "Enter a number." or, beyond 64 bits, DRF's range message."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    value = parse_int(raw)
    if value is None:
        raise ValidationFailed({name: ["Enter a number."]})
    return check_range(name, value)


def number_filter(stmt, column, params: dict, name: str):
    """`stmt` narrowed to `column == ?<name>` when that number filter (`number_param`) is
    given."""
    value = number_param(params, name)
    return stmt if value is None else stmt.where(column == value)


def get_by_id(session, table, pk) -> dict:
    """The row of `table` whose `id` is `pk`, or 404."""
    row = session.execute(select(table).where(table.c.id == pk)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def bool_param(params: dict, name: str):
    """django-filter BooleanFilter: true/false/1/0, case-insensitive; anything else: no filter."""
    raw = params.get(name)
    if raw is None:
        return None
    raw = str(raw).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    return None


def search_terms(value: str, limits: SearchLimits = SearchLimits()) -> list[str]:
    """DRF SearchFilter: terms split on whitespace and commas (null characters removed),
    within `limits`."""
    value = str(value or "").replace("\x00", "")
    if len(value) > limits.max_chars:
        raise ValidationFailed({"search": [
            f"Ensure this field has no more than {limits.max_chars} characters."]})
    terms = [t for t in re.split(r"[\s,]+", value) if t]
    if len(terms) > limits.max_terms:
        raise ValidationFailed({"search": [
            f"Ensure this search has no more than {limits.max_terms} terms."]})
    return list(dict.fromkeys(terms))  # a repeated term changes nothing


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_limits_of(session) -> SearchLimits:
    """The search limits the unit of work `session` was opened with (svckit.db.Database)."""
    return session.get_execution_options().get(SEARCH_LIMITS) or SearchLimits()


def apply_search(stmt, params: dict, columns, limits: SearchLimits = SearchLimits()):
    terms = search_terms(params.get("search", ""), limits)
    if not terms or not columns:
        return stmt
    clauses = []
    for term in terms:
        pattern = _like(term.lower())
        clauses.append(or_(*[func.lower(cast(c, String)).like(pattern, escape="\\")
                             for c in columns]))
    return stmt.where(and_(*clauses))


def apply_ordering(stmt, params: dict, columns: dict, default):
    """`ordering=a,-b`; unknown fields are silently ignored, as DRF does."""
    order, seen = [], set()
    for name in str(params.get("ordering") or "").split(","):
        name = name.strip()
        desc = name.startswith("-")
        column = columns.get(name.lstrip("-"))
        if column is not None and name.lstrip("-") not in seen:  # a repeat changes nothing
            seen.add(name.lstrip("-"))
            order.append(column.desc() if desc else column.asc())
    return stmt.order_by(*(order or default))


def run_list(session, stmt, params: dict, *, search=(), ordering=None, default_order=(),
             render=dict, default_limit=None, max_limit=MAX_LIMIT) -> dict:
    """Apply search, ordering and paging to `stmt`; render each row with `render`. A paged
    answer carries `count`, `limit` and `offset` (see `paging` for the two limits)."""
    limit, offset = paging(params, default_limit, max_limit)
    stmt = apply_search(stmt, params, search, search_limits_of(session))
    answer = {}
    if limit is not None:
        answer["count"] = session.execute(
            select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
        answer.update(limit=limit, offset=offset)
    stmt = apply_ordering(stmt, params, ordering or {}, default_order)
    if limit is not None:  # DRF ignores offset without limit
        stmt = stmt.limit(limit).offset(offset)
    answer["results"] = [render(row) for row in session.execute(stmt).mappings()]
    return answer


def page_list(items: list, params: dict) -> dict:
    """The same answer for a list already held in memory."""
    limit, offset = paging(params)
    if limit is None:
        return {"results": items}
    return {"count": len(items), "limit": limit, "offset": offset,
            "results": items[offset:offset + limit]}
