"""The blob behind a `/media/<key>` path the gateway serves: an attachment's file (for
callers who may see the attachment) or a notes image (for any signed-in user)."""
from sqlalchemy import select

from svckit.blobstore import BlobStore
from svckit.context import Caller
from svckit.errors import NotFound

from .attachments import may
from .files import content_type
from .models import attachments, notes_images


def media_file(session, caller: Caller, blobs: BlobStore, key: str) -> dict:
    """`{key, size, sha256, content_type, filename}`; 404 for an unknown key, and for an
    attachment the caller may not see (as if it did not exist, as the API's detail answers)."""
    row = session.execute(select(attachments.c.file_size, attachments.c.sha256,
                                 attachments.c.model_type)
                          .where(attachments.c.file_key == key)).first()
    if row is not None:
        if not may(caller, row.model_type, "view"):
            raise NotFound()
        size, digest = row.file_size, row.sha256
    elif session.execute(select(notes_images.c.id).where(
            notes_images.c.file_key == key)).first():
        size, digest = blobs.size(key), None
    else:
        raise NotFound()
    if size is None:
        raise NotFound()
    name = key.rsplit("/", 1)[-1]
    return {"key": key, "size": size, "sha256": digest, "content_type": content_type(name),
            "filename": name}
