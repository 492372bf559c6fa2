"""`POST /api/search/` and `/api/test-statistics/...` (SEMANTICS §14): both serve models of
other InvenTree domains (parts, stock, orders, builds, companies), which this deployment
does not run. They answer that honestly rather than with empty results."""
from svckit.errors import NotFound, ValidationFailed

SEARCH_TYPES = ("build", "company", "manufacturerpart", "supplierpart", "part", "partcategory",
                "purchaseorder", "returnorder", "salesorder", "stockitem", "stocklocation")


def search(body) -> dict:
    body = body if isinstance(body, dict) else {}
    term = body.get("search")
    if term is None or str(term).strip() == "":
        raise ValidationFailed({"search": "Search term must be provided"})
    for name in ("limit", "offset"):
        if name in body:
            try:
                int(body[name])
            except (TypeError, ValueError):
                raise ValidationFailed({name: ["A valid integer is required."]})
    return {kind: {"error": f"Model type '{kind}' is not served by this deployment"}
            for kind in SEARCH_TYPES if kind in body}


def test_statistics(kind: str, pk: int):
    raise NotFound({"detail": f"No stock item test results exist in this deployment "
                              f"(test statistics by {kind} need the stock domain)"})
