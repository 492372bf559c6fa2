"""Attachments (SEMANTICS §3): fields, validation, permissions by target model, rendering
and the list query."""
from urllib.parse import quote

from sqlalchemy import select, true

from svckit import config, jsontext
from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import bool_param, get_by_id, number_param
from svckit.urls import check_url

from .models import attachment_tags, attachments

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
    permission), or None for all (a superuser)."""
    if caller.is_superuser:
        return None
    return [m for m in MODEL_TYPES if may(caller, m, "view")]


def visible(caller: Caller, condition=None):
    """`condition` narrowed to the attachments the caller may see."""
    types = viewable(caller)
    if types is None:
        return condition if condition is not None else true()
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

def _link(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("Enter a valid URL.")
    value = value.strip()
    if len(value) > 200:
        raise ValueError("Ensure this field has no more than 200 characters.")
    schemes = ("http", "https", "ftp", "ftps") + tuple(
        s.strip().lower() for s in config.setting("INVENTREE_EXTRA_URL_SCHEMES", "").split(",")
        if s.strip())
    return check_url(value, schemes, config.setting("INVENTREE_STRICT_URLS", True, bool))


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


def clean(data, partial: bool = False) -> dict:
    """The writable fields of a request (model_type, model_id, comment, link, tags), with
    every field error collected as DRF does. `attachment` and `filename` are the caller's
    business (they involve files)."""
    errors, cleaned = {}, {}
    try:
        cleaned = validate(_CHECKED, data, partial=partial)
    except ValidationFailed as exc:
        if "non_field_errors" in exc.detail:
            raise
        errors.update(exc.detail)
    for name, check in (("link", _link), ("tags", _tags)):
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


def clean_update(data, partial: bool) -> dict:
    """PUT needs the required fields; fields not sent stay as they are (DRF's update)."""
    cleaned = clean(data, partial=True)
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

def get(session, pk) -> dict:
    return get_by_id(session, attachments, pk)


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
        rows = session.execute(select(attachment_tags).where(
            attachment_tags.c.attachment_id.in_(pks)).order_by(attachment_tags.c.tag))
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
    stmt = select(attachments).where(visible(caller))
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
