"""Owners: every user and group is one (what `responsible` fields elsewhere point at);
`/api/user/owner/`. They follow their user or group: created, renamed and deleted with it."""
from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotFound
from svckit.listing import bool_param, page_list, search_limits_of, search_terms

from . import events
from .models import owners, store, users


def create(session, caller: Caller, owner_type: str, owner_id: int, name: str):
    pk = store.next_stream_id(session, "owner")
    store.record(session, "owner", pk, events.OWNER_CREATED,
                 {"owner_type": owner_type, "owner_id": owner_id, "name": name}, caller)


def _owner_of(session, owner_type: str, owner_id: int):
    return session.execute(select(owners.c.id).where(owners.c.owner_type == owner_type,
                                                     owners.c.owner_id == owner_id)).scalar()


def rename(session, caller: Caller, owner_type: str, owner_id: int, name: str):
    pk = _owner_of(session, owner_type, owner_id)
    if pk is not None:
        store.record(session, "owner", pk, events.OWNER_RENAMED, {"name": name}, caller)


def delete(session, caller: Caller, owner_type: str, owner_id: int):
    pk = _owner_of(session, owner_type, owner_id)
    if pk is not None:
        store.record(session, "owner", pk, events.OWNER_DELETED, {}, caller)


def owner_repr(row) -> dict:
    return {"pk": row["id"], "owner_id": row["owner_id"], "name": row["name"],
            "label": row["owner_type"]}


def list_owners(session, params: dict) -> dict:
    """A page of owners in pk order; `search`: every term a substring of the lower-cased name;
    `is_active`: drops user owners whose user differs (group owners always kept)."""
    rows = session.execute(select(owners, users.c.is_active).outerjoin(
        users, (owners.c.owner_type == "user") & (users.c.id == owners.c.owner_id))
        .order_by(owners.c.id)).mappings().all()
    terms = [t.lower() for t in search_terms(params.get("search", ""),
                                                   search_limits_of(session))]
    active = bool_param(params, "is_active")
    out = []
    for row in rows:
        if not all(t in row["name"].lower() for t in terms):
            continue
        if active is not None and row["owner_type"] == "user" and row["is_active"] != active:
            continue
        out.append(owner_repr(row))
    return page_list(out, params)


def by_pks(session, pks: list) -> dict:
    """Owner representations by pk (as strings: the keys of an RPC answer)."""
    rows = session.execute(select(owners).where(owners.c.id.in_([int(p) for p in pks]))
                           ).mappings().all()
    return {str(row["id"]): owner_repr(row) for row in rows}


def get_owner(session, pk: int) -> dict:
    owner = by_pks(session, [pk]).get(str(pk))
    if owner is None:
        raise NotFound()
    return owner
