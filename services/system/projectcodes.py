"""Project codes (SEMANTICS §14): fields, validation, commands, metadata."""
from sqlalchemy import bindparam, select

from svckit.context import Caller
from svckit.errors import PermissionDenied, ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import get_by_id
from svckit.metadata import merged_metadata

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


def render(row, owners: dict) -> dict:
    responsible = row["responsible"]
    return {"pk": row["id"], "code": row["code"], "description": row["description"],
            "responsible": responsible,
            "responsible_detail": owners.get(str(responsible)) if responsible else None}


def get(session, pk) -> dict:
    return get_by_id(session, project_codes, pk)


def require_staff(caller: Caller):
    if not (caller.is_staff or caller.is_superuser):
        raise PermissionDenied()


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


def create(session, caller, cleaned: dict, import_key: str | None = None,
           checked: bool = False) -> int:
    """`checked`: `check_unique` already ran in this transaction."""
    if not checked:
        check_unique(session, cleaned)
    pk = store.next_stream_id(session, "project_code")
    payload = {"description": "", "responsible": None, "metadata": {}, **cleaned}
    if import_key:
        payload["import_key"] = import_key
    store.record(session, "project_code", pk, "project_code.created", payload, caller,
                 version=1)
    return pk


def clean_batch(session, datas: list, owners: dict) -> list:
    """Each row cleaned, or its ValidationFailed, as if the rows were created in order (a
    code taken by the database or by an earlier row of the batch is refused); one query."""
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
            taken.add(cleaned["code"])
    return judged


def create_batch(session, caller, items: list) -> list[int]:
    """Rows from `clean_batch`, with their import keys: one event per row, written at once."""
    pks = list(store.next_stream_ids(session, "project_code", len(items))) if items else []
    payloads = [{"description": "", "responsible": None, "metadata": {}, **cleaned,
                 **({"import_key": key} if key else {})} for cleaned, key in items]
    store.record_new_streams(session, "project_code", pks, "project_code.created", payloads,
                             caller)
    return pks


def update(session, caller, pk: int, cleaned: dict):
    current, version = store.load_for_update(session, "project_code", pk, get)
    check_unique(session, cleaned, pk)
    store.record_changes(session, "project_code", pk, "project_code.updated", current, cleaned,
                         caller, version + 1)


def set_metadata(session, caller, pk: int, body, partial: bool) -> dict:
    """PUT/PATCH of the metadata (a PATCH merges into the metadata read under the lock)."""
    current, version = store.load_for_update(session, "project_code", pk, get)
    value = merged_metadata(current["metadata"], body, partial)
    store.record(session, "project_code", pk, "project_code.updated", {"metadata": value},
                 caller, version + 1)
    return value


def delete(session, caller, pk: int):
    row, version = store.load_for_update(session, "project_code", pk, get)
    store.record(session, "project_code", pk, "project_code.deleted", {"code": row["code"]},
                 caller, version + 1)
