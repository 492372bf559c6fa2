"""Content types (SEMANTICS §4): InvenTree 264's Django models, served read-only."""
from svckit.errors import NotFound
from svckit.listing import SearchLimits, page_list, search_terms

from .contenttype_data import CONTENT_TYPES, app_labeled_name

ROWS = tuple(
    {"pk": pk, "app_label": app, "model": model,
     "app_labeled_name": app_labeled_name(app, verbose), "is_plugin": False}
    for pk, (app, model, _, verbose) in enumerate(CONTENT_TYPES, start=1))
_BY_PK = {row["pk"]: row for row in ROWS}
_VERBOSE = {pk: verbose for pk, (_, _, _, verbose) in enumerate(CONTENT_TYPES, start=1)}


def by_pk(pk: int) -> dict:
    row = _BY_PK.get(pk)
    if row is None:
        raise NotFound()
    return row


def by_model(model: str) -> dict:
    for row in ROWS:
        if row["model"] == model:
            return row
    raise NotFound()


def exists(pk) -> bool:
    return pk in _BY_PK


def model_title(pk: int) -> str:
    """A model's verbose name title-cased, as custom states show it ("Stock Item")."""
    return _VERBOSE[pk].title()


def app_label(pk: int) -> str:
    return _BY_PK[pk]["app_label"]


def list_content_types(params: dict, limits: SearchLimits = SearchLimits()) -> dict:
    """The list, paged."""
    return page_list(search_list(params, limits), params)


def search_list(params: dict, limits: SearchLimits = SearchLimits()) -> list[dict]:
    """Search on app_label and model, ordering on any field (the list is small and static)."""
    rows = list(ROWS)
    for term in search_terms(params.get("search", ""), limits):
        term = term.lower()
        rows = [r for r in rows if term in r["app_label"].lower() or term in r["model"].lower()]
    for name in reversed([n.strip() for n in str(params.get("ordering") or "").split(",") if n.strip()]):
        key = name.lstrip("-")
        if key in ("pk", "app_label", "model", "app_labeled_name", "is_plugin"):
            rows.sort(key=lambda r: r[key], reverse=name.startswith("-"))
    return rows
