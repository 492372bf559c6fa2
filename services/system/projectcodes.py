"""Project codes (SEMANTICS §14): fields, validation, commands, metadata."""
from sqlalchemy import bindparam, select

from svckit.errors import ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import get_by_id, run_list
from svckit.metadata import merged_metadata

from . import events
from .models import project_codes, store

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "code": Field("string", "Project Code", "Unique project code", required=True,
                  max_length=50),
    "description": Field("string", "Description", "Project description", max_length=200,
                         extra={"allow_blank": True}),
    "responsible": Field("related field", "Responsible",
                         "User or group responsible for this project", model="owner",
                         api_url="/api/user/owner/", extra={"allow_null": True}),
    "responsible_detail": Field("nested object", "Responsible detail", read_only=True),
}
COLUMNS = {"pk": project_codes.c.id, "code": project_codes.c.code}
SEARCH = (project_codes.c.code, project_codes.c.description)


def owners_of(pks, lookup) -> dict:
    """The owners with these pks (None and repeats skipped), as `lookup` (the users
    service's `owners`) answers; nothing is asked for no pks. It is another service: call
    it before a transaction opens or after it closed (DESIGN rule 5)."""
    pks = sorted({int(p) for p in pks if p is not None})
    return lookup(pks) if pks else {}


def referenced_owners(datas, lookup) -> dict:
    """The owners the input rows `datas` name as `responsible`, read as `clean` reads them
    (a row `clean` refuses names none: validation reports it)."""
    return owners_of((_responsible(d) for d in datas), lookup)


def _responsible(data):
    try:
        return clean(data, partial=True).get("responsible")
    except ValidationFailed:
        return None


def render(row, owners: dict) -> dict:
    responsible = row["responsible"]
    return {"pk": row["id"], "code": row["code"], "description": row["description"],
            "responsible": responsible,
            "responsible_detail": owners.get(str(responsible)) if responsible else None}


def render_all(rows: list, lookup) -> list:
    """Rows rendered with their owners' details, asked of `lookup` at once."""
    owners = owners_of((r["responsible"] for r in rows), lookup)
    return [render(r, owners) for r in rows]


def render_one(row, lookup) -> dict:
    return render_all([row], lookup)[0]


def get(session, pk) -> dict:
    return get_by_id(session, project_codes, pk)


def list_project_codes(session, params: dict) -> dict:
    """A page of stored rows (render them with `render_all`, after the transaction)."""
    return run_list(session, select(project_codes), params, search=SEARCH, ordering=COLUMNS,
                    default_order=[project_codes.c.id])


def clean(data, partial=False) -> dict:
    """Field checks that need no database or other service."""
    cleaned = validate(FIELDS, data, partial=partial)
    if "description" in cleaned and cleaned["description"] is None:
        cleaned["description"] = ""
    return cleaned


UNIQUE_MESSAGE = "Project Code with this Project Code already exists."
_CLASH = select(project_codes.c.id).where(project_codes.c.code == bindparam("code"),
                                          project_codes.c.id != bindparam("pk"))


def check_unique(session, cleaned: dict, pk: int | None = None):
    if "code" not in cleaned:
        return
    if session.execute(_CLASH, {"code": cleaned["code"], "pk": -1 if pk is None else pk}).first():
        raise ValidationFailed({"code": [UNIQUE_MESSAGE]})


def check_owner(cleaned: dict, owners: dict):
    """`owners`: the users service's answer for the referenced owner pk."""
    pk = cleaned.get("responsible")
    if pk is not None and str(pk) not in owners:
        raise ValidationFailed({"responsible": [f'Invalid pk "{pk}" - object does not exist.']})


def clean_with_owner(data, owners: dict, partial: bool = False) -> dict:
    """`clean`, then the owner (`owners`: the `referenced_owners` of `data`)."""
    cleaned = clean(data, partial)
    check_owner(cleaned, owners)
    return cleaned


def checked(session, data, owners: dict) -> dict:
    """A new project code's `data` validated: fields, owner, a code not yet taken."""
    cleaned = clean_with_owner(data, owners)
    check_unique(session, cleaned)
    return cleaned


def import_validate(session, data, context: dict) -> dict:
    """The import adapter's check; `context["owners"]`: the batch's `referenced_owners`."""
    return checked(session, data, context.get("owners", {}))


def import_validate_batch(session, datas: list, context: dict) -> list:
    return clean_batch(session, datas, context.get("owners", {}))


def import_check_batch(session, datas: list, context: dict) -> list:
    """`import_validate` of every row, in one query (a code repeated within the batch is
    not refused here: each row is judged on its own, as the review shows it)."""
    return clean_batch(session, datas, context.get("owners", {}), within_batch=False)


def add(session, caller, data, owners: dict) -> dict:
    """`POST /api/project-code/`: the new row, as the projection wrote it (its columns are
    the event's payload: not read back)."""
    cleaned = checked(session, data, owners)
    pk = create(session, caller, cleaned)
    return {"id": pk, **created_payload(cleaned)}


def created_payload(cleaned: dict, import_key: str | None = None) -> dict:
    """The payload of `project_code.created` for `checked` data."""
    payload = {"description": "", "responsible": None, "metadata": {}, **cleaned}
    if import_key:
        payload["import_key"] = import_key
    return payload


def create(session, caller, cleaned: dict, import_key: str | None = None) -> int:
    """Record a project code from `checked` data."""
    pk = store.next_stream_id(session, "project_code")
    store.record(session, "project_code", pk, events.PROJECT_CODE_CREATED,
                 created_payload(cleaned, import_key), caller, version=1)
    return pk


def clean_batch(session, datas: list, owners: dict, within_batch: bool = True) -> list:
    """Each row cleaned, or its ValidationFailed, as if the rows were created in order (a
    code taken by the database or, `within_batch`, by an earlier row of the batch is
    refused); one query."""
    judged = []
    for data in datas:
        try:
            cleaned = clean(data)
            check_owner(cleaned, owners)
            judged.append(cleaned)
        except ValidationFailed as exc:
            judged.append(exc)
    codes = [c["code"] for c in judged if isinstance(c, dict) and "code" in c]
    taken = set(session.execute(select(project_codes.c.code).where(
        project_codes.c.code.in_(codes))).scalars()) if codes else set()
    for i, cleaned in enumerate(judged):
        if isinstance(cleaned, dict) and "code" in cleaned:
            if cleaned["code"] in taken:
                judged[i] = ValidationFailed({"code": [UNIQUE_MESSAGE]})
            if within_batch:
                taken.add(cleaned["code"])
    return judged


def create_batch(session, caller, items: list) -> list[int]:
    """Rows from `clean_batch`, with their import keys: one event per row, written at once."""
    pks = list(store.next_stream_ids(session, "project_code", len(items))) if items else []
    payloads = [created_payload(cleaned, key) for cleaned, key in items]
    store.record_new_streams(session, "project_code", pks, events.PROJECT_CODE_CREATED, payloads,
                             caller)
    return pks


def update(session, caller, pk: int, data, partial: bool, owners: dict) -> dict:
    """PUT/PATCH (`owners`: `referenced_owners` of `data`): the updated row."""
    cleaned = clean_with_owner(data, owners, partial)
    current, version = store.load_for_update(session, "project_code", pk, get)
    check_unique(session, cleaned, pk)
    store.record_changes(session, "project_code", pk, events.PROJECT_CODE_UPDATED, current,
                         cleaned, caller, version + 1)
    return get(session, pk)


def metadata(session, pk: int) -> dict:
    return {"metadata": get(session, pk)["metadata"]}


def set_metadata(session, caller, pk: int, body, partial: bool) -> dict:
    """PUT/PATCH of the metadata (a PATCH merges into the metadata read under the lock)."""
    current, version = store.load_for_update(session, "project_code", pk, get)
    value = merged_metadata(current["metadata"], body, partial)
    store.record(session, "project_code", pk, events.PROJECT_CODE_UPDATED, {"metadata": value},
                 caller, version + 1)
    return {"metadata": value}


def delete(session, caller, pk: int):
    row, version = store.load_for_update(session, "project_code", pk, get)
    store.record(session, "project_code", pk, events.PROJECT_CODE_DELETED, {"code": row["code"]},
                 caller, version + 1)
