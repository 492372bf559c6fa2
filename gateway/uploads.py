"""Uploads by the claim-check pattern (svckit.claimcheck): the file part of a multipart
request is streamed into the blob store under `incoming/` (never held whole in memory) and
the owning service gets its key, name, size and sha256 instead of the bytes."""
from contextlib import contextmanager

import falcon

from gateway import http
from svckit import claimcheck
from svckit.blobstore import BlobStore, BlobTooLarge
from svckit.errors import ApiError, ValidationFailed
from svckit.rpc_client import OutcomeUnknown

CHUNK = 1024 * 1024


def too_large(limit: int) -> ApiError:
    """The default answer to an oversized upload (413); callers may pass their own."""
    return ApiError({"detail": f"Upload exceeds the maximum size of {limit} bytes"}, 413)


def with_max_size(options: dict, field: str, limit: int) -> dict:
    """OPTIONS metadata with the upload limit of its file `field` as `max_size` (bytes) under
    every action that has the field: a client can refuse a larger file before sending it.
    (An addition to DRF's metadata, whose `max_length` of a file field is its name's.)"""
    for fields in (options.get("actions") or {}).values():
        if isinstance(fields, dict) and isinstance(fields.get(field), dict):
            fields[field] = {**fields[field], "max_size": limit}
    return options


def _chunks(stream):
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _drain(stream):
    for _ in _chunks(stream):
        pass


def read_form(req, blobs: BlobStore, file_field: str, limit: int,
              too_large=too_large) -> tuple[dict, dict | None]:
    """The text fields of a multipart body (last value wins) and the upload of its
    `file_field` part: `{"key", "name", "size", "sha256"}`, or None when no file came.
    Past `limit` bytes the error is `too_large(limit)` (the rest of the body is left unread
    and `req.context.close_connection` set). On any error the incoming blob is already gone."""
    http.require_length(req)
    if req.content_length > limit + CHUNK:
        req.context.close_connection = True
        raise too_large(limit)
    fields, upload = {}, None
    try:
        for part in req.get_media():
            if part.filename is None:
                fields[part.name] = part.get_text()
            elif part.name == file_field and part.filename and upload is None:
                key = claimcheck.new_key()
                upload = {"key": key, "name": part.filename}
                info = blobs.write(key, _chunks(part.stream), max_bytes=limit)
                upload.update(size=info.size, sha256=info.sha256)
            else:  # an empty file input, or a file part nobody asked for
                _drain(part.stream)
    except BlobTooLarge:
        req.context.close_connection = True
        raise too_large(limit)
    except falcon.MediaMalformedError as exc:
        claimcheck.discard(blobs, upload)
        raise ValidationFailed({"detail": f"Multipart form parse error - {exc.description}"})
    except BaseException:
        claimcheck.discard(blobs, upload)
        raise
    return fields, upload


@contextmanager
def request_data(req, blobs: BlobStore, file_field: str, limit: int, max_body: int,
                 too_large=too_large):
    """`(fields, upload)` of a JSON, form or multipart body, cleaned as InvenTree's
    CleanMixin does: a file up to `limit` bytes (`too_large`: as in `read_form`), any other
    body up to `max_body` (http.body). The incoming blob is removed when the block ends: by
    then the service has either placed it elsewhere or refused it, unless the block ended in
    a 503 whose outcome is unknown (OutcomeUnknown: the request, still queued, may run once
    the service is back, and a repeat learns its answer): that blob stays for the sweep
    (INCOMING_BLOB_SECONDS)."""
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        fields, upload = read_form(req, blobs, file_field, limit, too_large)
    else:
        fields, upload = http.body(req, max_body), None
    try:
        yield http.clean(fields), upload
    except OutcomeUnknown:
        raise
    except BaseException:
        claimcheck.discard(blobs, upload)
        raise
    claimcheck.discard(blobs, upload)
