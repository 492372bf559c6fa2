"""Attachments (SEMANTICS §3): fields, validation, permissions by target model, rendering,
the list query, and the commands (create, update, delete, metadata), which place and remove
files around their transactions through services.attachments.placement."""
import hashlib
from datetime import date
from typing import Callable
from urllib.parse import quote

from sqlalchemy import bindparam, select, true

from svckit import claimcheck, jsontext
from svckit.bulk import bulk_condition, matching_ids
from svckit.context import Caller
from svckit.errors import ApiError, NotFound, PermissionDenied, ValidationFailed
from svckit.fields import Field, options_document, validate
from svckit.listing import bool_param, number_param, run_list
from svckit.metadata import merged_metadata
from svckit.urls import check_url

from .events import (
    ATTACHMENT_DELETED,
    ATTACHMENT_LINKED,
    ATTACHMENT_RENAMED,
    ATTACHMENT_UPDATED,
    ATTACHMENT_UPLOADED,
)
from .files import check_new_filename, is_svg, sanitise_filename, sanitise_svg
from .models import attachment_tags, attachments, store
from .placement import Placement
from .settings import AttachmentsSettings

# user pks -> {"<pk>": user detail}: the users service's `user_details`
UserDetails = Callable[[list], dict]

MEDIA_URL = "/media/"

# model_type -> (verbose name, roles whose tables grant Django's `<app>.<perm>_<model>`;
# derived from InvenTree's RuleSet tables, see tests/attachments/test_roles.py)
MODEL_TYPES = {
    "build": ("Build Order", ("build",)),
    "company": ("Company", ("purchase_order", "sales_order", "return_order")),
    "manufacturerpart": ("Manufacturer Part", ("part", "purchase_order")),
    "purchaseorder": ("Purchase Order", ("purchase_order",)),
    "salesorder": ("Sales Order", ("sales_order",)),
    "salesordershipment": ("Sales Order Shipment", ("sales_order",)),
    "returnorder": ("Return Order", ("return_order",)),
    "part": ("Part", ("part", "build")),
    "stockitem": ("Stock Item", ("stock", "build")),
}

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "attachment": Field("file upload", "Attachment", "Select file to attach",
                        extra={"allow_null": True}),
    "filename": Field("string", "Filename"),
    "link": Field("url", "Link", "Link to external URL", max_length=200,
                  extra={"allow_null": True}),
    "comment": Field("string", "Comment", "Attachment comment", max_length=250,
                     extra={"allow_blank": True}),
    "upload_date": Field("date", "Upload date", "Date the file was uploaded", read_only=True),
    "upload_user": Field("field", "User", "User", read_only=True),
    "user_detail": Field("nested object", "User detail", read_only=True),
    "file_size": Field("integer", "File size", "File size in bytes", read_only=True),
    "model_type": Field("choice", "Model type", "Target model type for this attachment",
                        required=True,
                        choices=[(k, label) for k, (label, _) in MODEL_TYPES.items()]),
    "model_id": Field("integer", "Model ID", "Target model ID for this attachment",
                      required=True, min_value=0, max_value=2147483647),
    "tags": Field("list", "Tags"),
}
_CHECKED = {k: FIELDS[k] for k in ("model_type", "model_id", "comment")}

NOT_A_FILE = "The submitted data was not a file. Check the encoding type on the form."
CREATE_DENIED = "User does not have permission to create or edit attachments for this model"
DELETE_DENIED = "User does not have permission to delete this attachment"
BULK_DELETE_DENIED = "User does not have permission to delete these attachments"

ORDERING = {"model_id": attachments.c.model_id, "model_type": attachments.c.model_type,
            "upload_date": attachments.c.upload_date, "file_size": attachments.c.file_size}
SEARCH = (attachments.c.comment, attachments.c.model_id, attachments.c.model_type)
BULK_FILTERS = {"model_type": attachments.c.model_type, "model_id": attachments.c.model_id,
                "upload_user": attachments.c.upload_user}


def may(caller: Caller, model_type: str, permission: str) -> bool:
    """Django's `<app>.<permission>_<model>` for the target model, as InvenTree's roles grant
    it (add and delete imply change; the users service expands those)."""
    roles = MODEL_TYPES.get(model_type, ("", ()))[1]
    return caller.is_superuser or any(caller.has_role(r, permission) for r in roles)


def viewable(caller: Caller) -> list[str] | None:
    """The model types whose attachments the caller may see (their model's `view`
    permission), or None for all (a superuser, or a caller whose roles view every type:
    model types are validated on write, so every row has one of them)."""
    if caller.is_superuser:
        return None
    types = [m for m in MODEL_TYPES if may(caller, m, "view")]
    return None if len(types) == len(MODEL_TYPES) else types


def visible(caller: Caller, condition=None):
    """`condition` narrowed to the attachments the caller may see (None: no condition,
    which lets a count of every row skip the scan a `model_type IN (...)` or `1 = 1`
    forced on SQLite)."""
    types = viewable(caller)
    if types is None:
        return condition
    seen = attachments.c.model_type.in_(types)
    return seen if condition is None else condition & seen


def require_view(caller: Caller, row: dict) -> dict:
    """The row, or 404 for a caller who may not see it (as if it did not exist)."""
    if not may(caller, row["model_type"], "view"):
        raise NotFound()
    return row


def require_change(caller: Caller, *model_types: str):
    if not all(may(caller, m, "change") for m in model_types):
        raise PermissionDenied(CREATE_DENIED)


def require_delete(caller: Caller, model_type: str):
    if not may(caller, model_type, "delete"):
        raise PermissionDenied(DELETE_DENIED)


# ------------------------------------------------------------------ input

def _link(value, settings: AttachmentsSettings):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("Enter a valid URL.")
    value = value.strip()
    if len(value) > 200:
        raise ValueError("Ensure this field has no more than 200 characters.")
    return check_url(value, settings.url_schemes(), settings.INVENTREE_STRICT_URLS)


def _tags(value) -> list[str]:
    """taggit's TagListSerializerField: a list of strings, or (from a form) a JSON list."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = jsontext.loads(value) if value.strip() else []
        except ValueError:
            raise ValueError("Invalid json list. A tag list submitted in string form must be "
                             "valid json.")
    if not isinstance(value, list):
        raise ValueError(f'Expected a list of items but got type "{type(value).__name__}".')
    if not all(isinstance(t, str) for t in value):
        raise ValueError("All list items must be of string type.")
    tags = [t.strip() for t in value if t.strip()]
    if any(len(t) > 100 for t in tags):
        raise ValueError("Ensure each tag has no more than 100 characters.")
    return list(dict.fromkeys(tags))


def clean(data, settings: AttachmentsSettings, partial: bool = False) -> dict:
    """The writable fields of a request (model_type, model_id, comment, link, tags), with
    every field error collected as DRF does (a link's schemes as `settings` allow).
    `attachment` and `filename` are the caller's business (they involve files)."""
    errors, cleaned = {}, {}
    try:
        cleaned = validate(_CHECKED, data, partial=partial)
    except ValidationFailed as exc:
        if "non_field_errors" in exc.detail:
            raise
        errors.update(exc.detail)
    for name, check in (("link", lambda v: _link(v, settings)), ("tags", _tags)):
        if name in data:
            try:
                cleaned[name] = check(data[name])
            except ValueError as exc:
                errors[name] = [str(exc)]
        elif not partial:
            cleaned[name] = None if name == "link" else []
    if errors:
        raise ValidationFailed(errors)
    if not partial:
        cleaned.setdefault("comment", "")
    return cleaned


def clean_update(data, settings: AttachmentsSettings, partial: bool) -> dict:
    """PUT needs the required fields; fields not sent stay as they are (DRF's update)."""
    cleaned = clean(data, settings, partial=True)
    missing = {} if partial else {name: ["This field is required."]
                                  for name in ("model_type", "model_id") if name not in data}
    if missing:
        raise ValidationFailed(missing)
    return cleaned


def require_one_source(has_file: bool, link) -> None:
    if not has_file and not link:
        raise ValidationFailed({"attachment": ["Missing file"], "link": ["Missing external link"]})
    if has_file and link:
        raise ValidationFailed({"non_field_errors": [
            "An attachment holds either a file or an external link, not both"]})


# ------------------------------------------------------------------ reading

# built once: building a statement costs more than running it on a detail read
_BY_ID = select(attachments).where(attachments.c.id == bindparam("pk"))
_TAGS_OF = select(attachment_tags).where(
    attachment_tags.c.attachment_id.in_(bindparam("pks", expanding=True))
).order_by(attachment_tags.c.tag)


def get(session, pk) -> dict:
    """The attachment `pk` as a row, or 404."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound()
    row = session.execute(_BY_ID, {"pk": pk}).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def matching_rows(condition):
    """A loader for `EventStore.load_all_for_update`: the rows among `pks` that still
    match `condition`."""
    def load(session, pks) -> list[dict]:
        return [dict(r) for r in session.execute(select(attachments).where(
            condition, attachments.c.id.in_(pks)).order_by(attachments.c.id)).mappings()]
    return load


def tags_of(session, pks) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if pks:
        rows = session.execute(_TAGS_OF, {"pks": list(pks)})
        for pk, tag in rows:
            out.setdefault(pk, []).append(tag)
    return out


def media_url(key: str | None) -> str | None:
    return MEDIA_URL + quote(key, safe="/~!*()'") if key else None


def render(row: dict, tags: list, users: dict) -> dict:
    user = row["upload_user"]
    key = row["file_key"]
    return {"pk": row["id"], "attachment": media_url(key),
            "filename": key.rsplit("/", 1)[-1] if key else None,
            "link": row["link"], "comment": row["comment"],
            "upload_date": row["upload_date"].isoformat(), "upload_user": user,
            "user_detail": users.get(str(user)) if user is not None else None,
            "file_size": row["file_size"], "model_type": row["model_type"],
            "model_id": row["model_id"], "tags": tags}


def filtered(params: dict, caller: Caller):
    """The list statement with InvenTree's filters (and `tags`, any of a comma list), over
    the attachments the caller may see."""
    stmt = select(attachments)
    seen = visible(caller)
    if seen is not None:
        stmt = stmt.where(seen)
    if params.get("model_type"):
        stmt = stmt.where(attachments.c.model_type == str(params["model_type"]))
    model_id = number_param(params, "model_id")
    if model_id is not None:
        stmt = stmt.where(attachments.c.model_id == model_id)
    if params.get("upload_user") not in (None, ""):
        raw = str(params["upload_user"]).strip()
        if not raw.isdigit() or len(raw) > 18:  # beyond 64 bits: no such user
            raise ValidationFailed({"upload_user": [
                "Select a valid choice. That choice is not one of the available choices."]})
        stmt = stmt.where(attachments.c.upload_user == int(raw))
    is_link = bool_param(params, "is_link")
    if is_link is not None:
        has_link = attachments.c.link.is_not(None) & (attachments.c.link != "")
        stmt = stmt.where(has_link if is_link else ~has_link)
    is_file = bool_param(params, "is_file")
    if is_file is not None:
        stmt = stmt.where(attachments.c.file_key.is_not(None) if is_file
                          else attachments.c.file_key.is_(None))
    wanted = [t.strip() for t in str(params.get("tags") or "").split(",") if t.strip()]
    if wanted:
        stmt = stmt.where(attachments.c.id.in_(select(attachment_tags.c.attachment_id).where(
            attachment_tags.c.tag.in_(wanted))))
    return stmt


def uploaders(caller: Caller, pks, user_details: UserDetails) -> dict:
    """`user_detail` by uploader pk (as the users service's `user_details` has it): the
    caller's own from the caller context the gateway signed, which carries the same fields
    (e-mail for staff only, as `user_details` shows it), the others from the users service,
    in one call and only if there are any."""
    wanted = sorted({pk for pk in pks if pk is not None})
    others = [pk for pk in wanted if pk != caller.user_id]
    found = user_details(others) if others else {}
    if caller.user_id in wanted:
        own = caller.brief
        found[str(caller.user_id)] = {**own, "email": own["email"] if caller.is_admin else ""}
    return found


def render_all(session, caller: Caller, rows: list, user_details: UserDetails) -> list:
    """`rows` rendered with their tags and their uploaders' details."""
    tags = tags_of(session, [r["id"] for r in rows])
    users = uploaders(caller, [r["upload_user"] for r in rows], user_details)
    return [render(r, tags.get(r["id"], []), users) for r in rows]


def list_attachments(session, caller: Caller, params: dict, user_details: UserDetails) -> dict:
    answer = run_list(session, filtered(params, caller), params, search=SEARCH,
                      ordering=ORDERING, default_order=[attachments.c.id])
    answer["results"] = render_all(session, caller, answer["results"], user_details)
    return answer


def get_attachment(session, caller: Caller, pk: int, user_details: UserDetails) -> dict:
    """The attachment rendered; 404 when it is missing or the caller may not see it."""
    return render_all(session, caller, [require_view(caller, get(session, pk))],
                      user_details)[0]


def options(detail: bool) -> dict:
    return options_document(f"Attachment {'Detail' if detail else 'List'}", "", FIELDS,
                            ["PUT"] if detail else ["POST"])


def metadata(session, caller: Caller, pk: int) -> dict:
    return {"metadata": require_view(caller, get(session, pk))["metadata"]}


def set_metadata(session, caller: Caller, pk: int, body: dict, partial: bool) -> dict:
    current, version = store.load_for_update(session, "attachment", pk, get)
    value = merged_metadata(current["metadata"], body, partial)
    store.record_changes(session, "attachment", pk, ATTACHMENT_UPDATED, current,
                         {"metadata": value}, caller, version + 1)
    return {"metadata": value}


# ------------------------------------------------------------------ files

def _sanitised(placement: Placement, key: str, field: str) -> bytes:
    """The blob `key` as a sanitised SVG; a 400 on `field` when it is not one (or too large
    to sanitise)."""
    limit = placement.settings.SVG_SANITISE_MAX_BYTES
    try:
        return sanitise_svg(placement.blobs.read_all(key, limit))
    except ValueError as exc:
        raise ValidationFailed({field: [
            str(exc) if "SVG" in str(exc) else f"SVG files over {limit} bytes cannot be sanitised"]})


def _place_svg(placement: Placement, directory: str, name: str, source: str,
               field: str) -> tuple[str, int, str]:
    """Place a sanitised copy of the SVG blob `source`: (key, size, sha256)."""
    data = _sanitised(placement, source, field)
    key = placement.place_bytes(directory, name, data)
    return key, len(data), hashlib.sha256(data).hexdigest()


def _place_upload(placement: Placement, target: dict, upload: dict,
                  name: str) -> tuple[str, int, str]:
    """Put the incoming blob at `attachments/<model_type>/<model_id>/<name>` (an SVG
    sanitised first): (key, size, sha256)."""
    source = claimcheck.incoming_key(upload, "attachment")
    if not int(upload.get("size") or 0):
        raise ValidationFailed({"attachment": ["The submitted file is empty."]})
    directory = f"attachments/{target['model_type']}/{target['model_id']}"
    if is_svg(name):
        with claimcheck.still_there("attachment"):
            return _place_svg(placement, directory, name, source, "attachment")
    key = placement.place_upload(directory, name, upload, "attachment")
    return key, int(upload["size"]), str(upload.get("sha256") or "")


def _file_name(upload: dict, data: dict) -> str:
    """The name an uploaded file is stored under: `filename` if given, else the upload's."""
    wanted = data.get("filename")
    try:
        if isinstance(wanted, str) and wanted.strip():
            return check_new_filename(wanted.strip())
        return sanitise_filename(str(upload.get("name") or "filename"))
    except ValueError as exc:
        raise ValidationFailed({"filename" if wanted else "attachment": [str(exc)]})


def _refuse_text(sent) -> None:
    """An `attachment` sent as text rather than a file (InvenTree's 400)."""
    if isinstance(sent, str) and sent.strip():
        raise ValidationFailed({"attachment": [NOT_A_FILE]})


# ------------------------------------------------------------------ commands

def create(placement: Placement, caller: Caller, data: dict, upload: dict | None,
           user_details: UserDetails) -> dict:
    """POST: a file (`upload`) or a `link`. Idempotent by the upload key."""
    if upload:
        with placement.db.read() as s:
            done = s.execute(select(attachments.c.id).where(
                attachments.c.upload_id == claimcheck.incoming_key(upload, "attachment"))
            ).scalar()
            if done is not None:
                return get_attachment(s, caller, done, user_details)
    _refuse_text(data.get("attachment"))
    cleaned = clean(data, placement.settings)
    require_change(caller, cleaned["model_type"])
    require_one_source(bool(upload), cleaned["link"])
    payload = {**cleaned, "upload_date": date.today().isoformat(),
               "upload_user": caller.user_id, "metadata": {}}
    key = None
    if upload:
        key, size, digest = _place_upload(placement, cleaned, upload, _file_name(upload, data))
        payload.update(file_key=key, file_size=size, sha256=digest, link=None,
                       upload_id=upload["key"])

    def write(s):
        pk = store.next_stream_id(s, "attachment")
        store.record(s, "attachment", pk, ATTACHMENT_UPLOADED if key else ATTACHMENT_LINKED,
                     payload, caller, version=1)  # a fresh stream: nothing to lock or read
        # rendered from the projection just written; the uploader is the caller
        return render(get(s, pk), tags_of(s, [pk]).get(pk, []),
                      uploaders(caller, [caller.user_id], user_details))

    answer = placement.commit(key, write)
    claimcheck.discard(placement.blobs, upload)
    return answer


UPDATE_ATTEMPTS = 5  # an update whose file changed under it starts over, this many times


class _ChangedMeanwhile(Exception):
    """What an update placed was derived from a row that changed before it was locked."""


def update(placement: Placement, caller: Caller, pk: int, data: dict, partial: bool,
           upload: dict | None, user_details: UserDetails) -> dict:
    """PUT/PATCH. Read-only and unchanged keys are ignored (the official client sends the
    whole object back); a new `filename` renames the file, a new upload replaces it,
    `attachment: null` removes it (a link must then be given).

    Files are placed before the transaction opens, so the decision is checked again under
    the attachment's lock (permissions, file or link, the file replaced); a rename whose
    file was replaced meanwhile, or an upload whose attachment moved to another object,
    starts over (a few times, then 409)."""
    for _ in range(UPDATE_ATTEMPTS):
        try:
            _update_once(placement, caller, pk, data, partial, upload)
        except _ChangedMeanwhile:
            continue
        claimcheck.discard(placement.blobs, upload)
        with placement.db.read() as s:
            return get_attachment(s, caller, pk, user_details)
    raise ApiError({"detail": "The attachment kept changing while it was being updated; "
                              "please try again"}, 409)


def _update_once(placement: Placement, caller: Caller, pk: int, data: dict, partial: bool,
                 upload: dict | None) -> None:
    with placement.db.read() as s:
        current = require_view(caller, get(s, pk))
    shown = render(current, [], {})  # what the client was shown of `attachment`, `filename`
    require_change(caller, current["model_type"])
    data = {k: v for k, v in data.items()
            if k not in ("attachment", "filename") or v != shown[k]}
    changes = clean_update(data, placement.settings, partial)
    target = {**current, **changes}
    require_change(caller, target["model_type"])

    old_key = current["file_key"]
    if upload is None:
        _refuse_text(data.get("attachment"))
    clearing = upload is None and "attachment" in data
    require_one_source(bool(upload) or (bool(old_key) and not clearing), target["link"])

    placed, renamed = None, False
    if upload:
        placed, size, digest = _place_upload(placement, target, upload,
                                             _file_name(upload, data))
        changes.update(file_key=placed, file_size=size, sha256=digest, upload_id=upload["key"])
    elif clearing:
        changes.update(file_key=None, file_size=0, sha256=None)
    elif data.get("filename") is not None:
        if not old_key:
            raise ValidationFailed({"filename": ["Only an uploaded file can be renamed"]})
        try:
            name = check_new_filename(str(data["filename"]))
        except ValueError as exc:
            raise ValidationFailed({"filename": [str(exc)]})
        if name != old_key.rsplit("/", 1)[-1]:
            directory = old_key.rsplit("/", 1)[0]
            if is_svg(name):  # a file that becomes an SVG by its name is sanitised too
                placed, size, digest = _place_svg(placement, directory, name, old_key,
                                                  "filename")
                changes.update(file_size=size, sha256=digest)
            else:
                placed = placement.place_copy(directory, name, old_key)
            renamed = True
    garbage: list[str] = []  # the file this update replaces, known under the lock

    def write(s):
        now, _ = store.load_for_update(s, "attachment", pk, get)
        if (renamed and now["file_key"] != old_key) or (placed and any(
                now[k] != current[k] for k in ("model_type", "model_id"))):
            raise _ChangedMeanwhile()  # the copy or its directory came from a stale row
        require_view(caller, now)
        target = {**now, **changes}
        require_change(caller, now["model_type"], target["model_type"])
        require_one_source(bool(upload) or (bool(now["file_key"]) and not clearing),
                           target["link"])
        if now["file_key"] and (placed or clearing):
            garbage.append(now["file_key"])
        now["tags"] = tags_of(s, [pk]).get(pk, [])
        if renamed:
            store.record(s, "attachment", pk, ATTACHMENT_RENAMED,
                         {"file_key": placed, "previous_key": old_key}, caller)
        store.record_changes(s, "attachment", pk, ATTACHMENT_UPDATED, now, changes, caller)

    placement.commit(placed, write, garbage)


def delete(placement: Placement, caller: Caller, pk: int) -> None:
    def check(rows):
        if not rows:
            raise NotFound()
        require_view(caller, rows[0])
        require_delete(caller, rows[0]["model_type"])

    _delete_rows(placement, caller, lambda s: [pk], matching_rows(true()), check)


def bulk_delete(placement: Placement, caller: Caller, body) -> int:
    """Deletes among the attachments the caller may see; all of them or none (400, as
    InvenTree) when the caller may not delete some of them."""
    condition = visible(caller, bulk_condition(body, attachments.c.id, BULK_FILTERS))

    def check(rows):
        if not all(may(caller, m, "delete") for m in {r["model_type"] for r in rows}):
            raise ValidationFailed({"non_field_errors": [BULK_DELETE_DENIED]})

    return _delete_rows(placement, caller, lambda s: matching_ids(s, attachments, condition),
                        matching_rows(condition), check)


def _delete_rows(placement: Placement, caller: Caller, chosen, loader, check) -> int:
    """Delete the attachments `chosen(session)` that `loader` still finds once their streams
    are locked; `check(rows)` decides on those rows under the locks. Their files go after
    the commit."""
    def write(s):
        rows = store.load_all_for_update(s, "attachment", chosen(s), loader)
        check(rows)
        for row in rows:
            if row["file_key"]:
                garbage.append(row["file_key"])
            store.record(s, "attachment", row["id"], ATTACHMENT_DELETED,
                         {"file_key": row["file_key"], "model_type": row["model_type"],
                          "model_id": row["model_id"]}, caller)
        return len(rows)

    garbage: list[str] = []
    return placement.commit(None, write, garbage)
