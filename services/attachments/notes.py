"""Images uploaded from notes editors (`/api/notes-image-upload/`, SEMANTICS §14)."""
import tempfile

from sqlalchemy import select

from svckit import claimcheck
from svckit.blobstore import BlobStore
from svckit.context import Caller
from svckit.errors import ApiError, PermissionDenied, ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import get_by_id, run_list

from .attachments import media_url
from .events import NOTES_IMAGE_DELETED, NOTES_IMAGE_UPLOADED
from .files import is_svg, is_valid_image, sanitise_filename
from .models import notes_images, store
from .placement import Placement

# Models with InvenTree's notes mixin at API 264 (lower-cased class names)
NOTES_MODELS = ("build", "company", "manufacturerpart", "supplierpart", "part",
                "purchaseorder", "salesorder", "salesordershipment", "returnorder",
                "stockitem")

FIELDS = {
    "model_type": Field("string", "Model type", "Target model type for this image",
                        max_length=100, extra={"allow_null": True, "allow_blank": True}),
    "model_id": Field("integer", "Model ID", "Target model ID for this image", min_value=0,
                      max_value=2147483647, extra={"allow_null": True}),
}
SEARCH = (notes_images.c.user_id, notes_images.c.model_type, notes_images.c.model_id)
ORDERING = {"pk": notes_images.c.id, "date": notes_images.c.date}
INVALID_IMAGE = ("Upload a valid image. The file you uploaded was either not an image or a "
                 "corrupted image.")


def too_large(limit: int) -> ApiError:
    """The gateway's answer to an oversized upload (gateway.uploads.too_large)."""
    return ApiError({"detail": f"Upload exceeds the maximum size of {limit} bytes"}, 413)


def clean(data, upload, max_bytes: int) -> dict:
    cleaned = validate(FIELDS, data, partial=True)
    model_type = cleaned.get("model_type")
    if model_type and model_type.lower() not in NOTES_MODELS:
        raise ValidationFailed({"model_type": [f"Invalid model type '{model_type}'"]})
    if not upload:
        raise ValidationFailed({"image": ["No file was submitted."]})
    if not int(upload.get("size") or 0):
        raise ValidationFailed({"image": ["The submitted file is empty."]})
    if int(upload["size"]) > max_bytes:
        raise too_large(max_bytes)
    return {"model_type": model_type or None, "model_id": cleaned.get("model_id")}


def check_image(blobs: BlobStore, key: str):
    """A real image (Pillow can open and verify it), read from the blob store."""
    path = blobs.local_path(key)
    if path is not None:
        with open(path, "rb") as f:
            valid = is_valid_image(f)
    else:
        with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as f:
            for chunk in blobs.read(key):
                f.write(chunk)
            f.seek(0)
            valid = is_valid_image(f)
    if not valid:
        raise ValidationFailed({"image": [INVALID_IMAGE]})


def get(session, pk) -> dict:
    return get_by_id(session, notes_images, pk)


def may_delete(caller: Caller, row) -> bool:
    """Staff, and whoever uploaded the image."""
    return caller.is_admin or (caller.user_id is not None and row["user_id"] == caller.user_id)


def render(row) -> dict:
    return {"pk": row["id"], "image": media_url(row["file_key"]), "user": row["user_id"],
            "date": row["date"].strftime("%Y-%m-%d %H:%M"), "model_type": row["model_type"],
            "model_id": row["model_id"]}


def list_images(session, params: dict) -> dict:
    return run_list(session, select(notes_images), params, search=SEARCH, ordering=ORDERING,
                    default_order=[notes_images.c.id], render=render)


def create(placement: Placement, caller: Caller, data: dict, upload: dict | None,
           max_bytes: int) -> dict:
    """POST: a real image, at most `max_bytes`, placed under `notes/`; never under a name
    that would be served as an SVG (only sanitised SVGs are: attachments)."""
    cleaned = clean(data, upload, max_bytes)
    source = claimcheck.incoming_key(upload, "image")
    try:
        name = sanitise_filename(str(upload.get("name") or "image"))
    except ValueError as exc:
        raise ValidationFailed({"image": [str(exc)]})
    if is_svg(name):  # it would be served as an SVG, and an image Pillow opens is none
        raise ValidationFailed({"image": [INVALID_IMAGE]})
    with claimcheck.still_there("image"):
        check_image(placement.blobs, source)
    key = placement.place_upload("notes", name, upload, "image")
    payload = {**cleaned, "file_key": key, "user_id": caller.user_id, "upload_id": source}

    def write(s):
        pk = store.next_stream_id(s, "notes_image")
        store.record(s, "notes_image", pk, NOTES_IMAGE_UPLOADED, payload, caller)
        return render(get(s, pk))

    answer = placement.commit(key, write)
    claimcheck.discard(placement.blobs, upload)
    return answer


def delete(placement: Placement, caller: Caller, pk: int) -> None:
    """DELETE (staff or the uploader, decided under the image's lock); the file goes too."""
    garbage: list[str] = []

    def write(s):
        row, version = store.load_for_update(s, "notes_image", pk, get)
        if not may_delete(caller, row):
            raise PermissionDenied()
        garbage.append(row["file_key"])
        store.record(s, "notes_image", pk, NOTES_IMAGE_DELETED, {"file_key": row["file_key"]},
                     caller, version + 1)

    placement.commit(None, write, garbage)
