"""The claim check: files never travel over RPC.

The gateway streams an upload into the blob store under `incoming/<random name>` (`new_key`)
and passes the owning service that key, with the file's name, size and sha256 (`upload`).
The service checks the key's shape (`incoming_key`: a caller cannot point it at any other
blob), claims the blob by copying it to its place (`claim`, never overwriting), deletes
what it placed if its request fails, and deletes the incoming blob once its claim is
committed (`discard`; the incoming blob outlives a failed attempt, so a retry can claim it
again). The gateway discards it too when its request is answered, whatever the outcome;
blobs left under `incoming/` by requests that never finished are swept once older than
INCOMING_BLOB_SECONDS (`sweep`).
"""
import uuid
from contextlib import contextmanager
from datetime import timedelta

from svckit.blobstore import BlobStore, check_key
from svckit.errors import ValidationFailed
from svckit.events import utcnow

INCOMING = "incoming/"
INVALID_REFERENCE = "Invalid upload reference"
GONE = "The uploaded file is gone; send it again"


def new_key() -> str:
    """A fresh key for an upload the gateway is about to store."""
    return INCOMING + uuid.uuid4().hex


def incoming_key(upload: dict | None, field: str) -> str:
    """The key of `upload` when it names a blob directly under `incoming/`; a 400
    "Invalid upload reference" on `field` otherwise."""
    key = upload.get("key") if isinstance(upload, dict) else None
    if not isinstance(key, str) or not _is_incoming(key):
        raise ValidationFailed({field: [INVALID_REFERENCE]})
    return key


def _is_incoming(key: str) -> bool:
    """A valid blob key of one segment under `incoming/`."""
    name = key[len(INCOMING):] if key.startswith(INCOMING) else ""
    try:
        check_key(key)
    except ValueError:
        return False
    return bool(name) and "/" not in name


@contextmanager
def still_there(field: str):
    """Around reading an incoming blob: its absence (swept, or discarded once an earlier
    delivery of the same request was committed) is a 400 on `field`, not a server error."""
    try:
        yield
    except FileNotFoundError:
        raise ValidationFailed({field: [GONE]})


def claim(blobs: BlobStore, key: str, target: str, field: str) -> bool:
    """Copy the incoming blob `key` to `target`, unless a blob is there already: then False,
    and nothing changed. A missing `key` is the 400 of `still_there`."""
    with still_there(field):
        return blobs.copy(key, target)


def discard(blobs: BlobStore, upload: dict | None) -> None:
    """Delete the incoming blob of `upload`, if any (a blob already gone is fine): the
    service once its claim is committed, the gateway once its request is answered."""
    if upload is not None:
        blobs.delete(upload["key"])


def sweep(blobs: BlobStore, max_age_seconds: float) -> int:
    """Delete incoming blobs older than `max_age_seconds` (INCOMING_BLOB_SECONDS: their
    requests never finished); returns how many."""
    cutoff = utcnow() - timedelta(seconds=max_age_seconds)
    stale = [key for key, modified in blobs.list(INCOMING) if modified < cutoff]
    for key in stale:
        blobs.delete(key)
    return len(stale)
