"""Images uploaded from notes editors (`/api/notes-image-upload/`, SEMANTICS §14)."""
import tempfile

from svckit.blobstore import BlobStore
from svckit.errors import ApiError, ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import get_by_id

from .attachments import media_url
from .files import is_valid_image
from .models import notes_images

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


def may_delete(caller, row) -> bool:
    """Staff, and whoever uploaded the image."""
    return caller.is_staff or caller.is_superuser or (
        caller.user_id is not None and row["user_id"] == caller.user_id)


def render(row) -> dict:
    return {"pk": row["id"], "image": media_url(row["file_key"]), "user": row["user_id"],
            "date": row["date"].strftime("%Y-%m-%d %H:%M"), "model_type": row["model_type"],
            "model_id": row["model_id"]}
