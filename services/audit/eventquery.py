"""The audit trail's filtered reads in id order, shaped so that each reads a bounded stretch
of an index rather than every matching row.

A page in id order (`ORDER BY id LIMIT n`, the list's default and the export's keyset)
is cheap when one index holds the matching rows in id order: an index of a filtered column
with the id after it (revision 0005) read from its start. A list of types (or a type
wildcard, `attachment.*`) is several ranges of the type index, which the databases read in
full and sort; a million events of `attachment.*` took 200-400 ms for a page of 50. So:

- a type wildcard is read as the recorded types it matches (`audit_event_type`, a few
  dozen rows), matched in Python exactly as the live feed matches it
  (svckit.eventfilter.EventFilter.matches);
- a page over several types is the union of one page of ids per type (each the first n
  entries of its own index range in id order), merged in id order, and then the page's
  rows are read: at most types x n index entries and n rows.
"""
from dataclasses import replace

from sqlalchemy import false, select, union_all

from svckit.eventfilter import EventFilter

from .models import audit_event_types, audit_events

MAX_UNION = 24  # more types than this are read as one IN list (and sorted)


def resolve_types(session, selection: EventFilter) -> EventFilter:
    """`selection` with its type patterns replaced by the recorded types they match (none
    recorded: a filter that accepts nothing)."""
    if not selection.type_patterns:
        return selection
    exact = selection.values.get("type", ())
    known = session.execute(select(audit_event_types.c.type)).scalars()
    matching = tuple(t for t in known if t not in exact
                     and selection.matches_type_pattern(t))
    return replace(selection, values={**selection.values, "type": exact + matching},
                   type_patterns=())


def conditions(session, selection: EventFilter, with_search: bool = True
               ) -> tuple[list, tuple[str, ...]]:
    """(the SQL conditions of `selection` with its types resolved, the concrete types it
    accepts: empty for any)."""
    selection = resolve_types(session, selection)
    types = selection.values.get("type", ())
    if "type" in selection.values and not types:
        return [false()], ()
    return selection.clauses(audit_events.c, with_search=with_search), types


def in_id_order(columns: list, where: list, types: tuple[str, ...], limit: int,
                offset: int = 0, descending: bool = False):
    """SELECT `columns` WHERE `where` ORDER BY id LIMIT/OFFSET; with several `types` (the
    resolved type filter, part of `where`), as the merged union of a page per type."""
    c = audit_events.c
    order = c.id.desc() if descending else c.id
    if not 1 < len(types) <= MAX_UNION:
        return select(*columns).where(*where).order_by(order).limit(limit).offset(offset)
    # the ids alone, from each type's index (no table row read), then the page's rows
    parts = [select(select(c.id).where(*where, c.type == t).order_by(order)
                    .limit(limit + offset).subquery()) for t in types]
    merged = union_all(*parts).subquery()
    key = merged.c.id.desc() if descending else merged.c.id
    page = select(merged.c.id).order_by(key).limit(limit).offset(offset).subquery()
    return (select(*columns).select_from(audit_events.join(page, c.id == page.c.id))
            .order_by(order))
