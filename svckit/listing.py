"""List endpoints' shared rules: paging (limit/offset), ordering and search (SEMANTICS §1.3-1.4).

The gateway passes the query string through as a dict; services call `run_list()` with
their SQLAlchemy statement and the fields they allow. The answer is `{"results": [...]}`,
plus `count` when paging was asked for; the gateway adds the envelope and absolute links.
"""
import re

from sqlalchemy import String, and_, cast, func, or_, select

from svckit.errors import NotFound, ValidationFailed

MAX_LIMIT = 10000
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def _int_param(params: dict, name: str, minimum: int, maximum: int | None = None):
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationFailed({name: ["A valid integer is required."]})
    if value < minimum:
        raise ValidationFailed({name: [f"Ensure this value is greater than or equal to {minimum}."]})
    if maximum is not None and value > maximum:
        raise ValidationFailed({name: [f"Ensure this value is less than or equal to {maximum}."]})
    return value


def paging(params: dict) -> tuple[int | None, int]:
    """(limit, offset); limit None means 'answer a bare array'."""
    limit = _int_param(params, "limit", 0, MAX_LIMIT)
    offset = _int_param(params, "offset", 0) or 0
    if limit == 0:  # DRF treats limit=0 as 'no paging'
        limit = None
    return limit, offset


def number_param(params: dict, name: str) -> int | None:
    """django-filter NumberFilter on an integer column: None when absent or empty, else the
    number or a 400 "Enter a number."."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValidationFailed({name: ["Enter a number."]})


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


def search_terms(value: str) -> list[str]:
    """DRF SearchFilter: terms split on whitespace and commas (null characters removed)."""
    value = (value or "").replace("\x00", "")
    return [t for t in re.split(r"[\s,]+", value) if t]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def apply_search(stmt, params: dict, columns):
    terms = search_terms(params.get("search", ""))
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
    order = []
    for name in str(params.get("ordering") or "").split(","):
        name = name.strip()
        desc = name.startswith("-")
        column = columns.get(name.lstrip("-"))
        if column is not None:
            order.append(column.desc() if desc else column.asc())
    return stmt.order_by(*(order or default))


def run_list(session, stmt, params: dict, *, search=(), ordering=None, default_order=(),
             render=dict) -> dict:
    """Apply search, ordering and paging to `stmt`; render each row with `render`."""
    limit, offset = paging(params)
    stmt = apply_search(stmt, params, search)
    answer = {}
    if limit is not None:
        answer["count"] = session.execute(
            select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
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
    return {"count": len(items), "results": items[offset:offset + limit]}
