"""Bulk DELETE on list endpoints (SEMANTICS §1.11): `{"items": [pk, ...]}` and/or
`{"filters": {field: value}}`, filters limited to a whitelist of fields."""
from sqlalchemy import Integer, and_, false, select

from svckit.errors import ValidationFailed
from svckit.listing import INT64_MAX, INT64_MIN, bool_param, parse_int


def bulk_condition(body, id_column, filter_columns: dict):
    """The SQL condition selecting what to delete; raises InvenTree's 400s for bad input."""
    body = body if isinstance(body, dict) else {}
    items, filters = body.get("items"), body.get("filters")
    if not items and not filters:
        raise ValidationFailed({"non_field_errors": [
            "List of items or filters must be provided for bulk deletion"]})
    clauses = []
    if items:
        if not isinstance(items, list):
            raise ValidationFailed({"items": ["'items' must be supplied as a list object"]})
        try:
            pks = [int(i) for i in items if not isinstance(i, bool)]
        except (TypeError, ValueError, OverflowError):
            raise ValidationFailed({"non_field_errors": "Invalid items list provided"})
        if len(pks) != len(items):
            raise ValidationFailed({"non_field_errors": "Invalid items list provided"})
        clauses.append(id_column.in_([pk for pk in pks if INT64_MIN <= pk <= INT64_MAX]))
    if filters:
        if not isinstance(filters, dict):
            raise ValidationFailed({"filters": ["'filters' must be supplied as a dict object"]})
        for name, value in filters.items():
            column = filter_columns.get(name)
            if column is None or isinstance(value, (dict, list)):
                raise ValidationFailed({"non_field_errors": "Invalid filters provided"})
            if str(column.type) == "BOOLEAN":
                value = bool_param({"v": value if not isinstance(value, bool) else str(value)}, "v")
                if value is None:
                    raise ValidationFailed({"non_field_errors": "Invalid filters provided"})
            elif isinstance(column.type, Integer):
                value = None if isinstance(value, (bool, float)) else parse_int(value)
                if value is None:
                    raise ValidationFailed({"non_field_errors": "Invalid filters provided"})
                if not INT64_MIN <= value <= INT64_MAX:  # no row can match
                    clauses.append(false())
                    continue
            clauses.append(column == value)
    return and_(*clauses)


def matching_ids(session, table, condition) -> list[int]:
    ids = session.execute(select(table.c.id).where(condition).order_by(table.c.id)).scalars().all()
    if not ids:
        raise ValidationFailed({"non_field_errors": "No items found to delete"})
    return list(ids)


def lock_rows(session, store, stream_type: str, table, condition, ids=None) -> list[int]:
    """The ids of `table` matching `condition` (or those of `ids` that do), their streams
    locked (`EventStore.load_all_for_update`) and the condition checked again under the
    locks, so that rows changed meanwhile are left out."""
    def still_matching(s, chosen):
        return s.execute(select(table.c.id).where(condition & table.c.id.in_(chosen))
                         .order_by(table.c.id)).scalars().all()

    if ids is None:
        ids = session.execute(select(table.c.id).where(condition)).scalars().all()
    return list(store.load_all_for_update(session, stream_type, ids, still_matching))


def lock_matching(session, store, stream_type: str, table, condition) -> list[int]:
    """`lock_rows` for a bulk delete: 400 when nothing matches."""
    return lock_rows(session, store, stream_type, table, condition,
                     matching_ids(session, table, condition))
