"""gateway.uploads: the too-large answer is the caller's to choose (413 by default, the
importer's 400), and an oversized upload leaves no blob behind."""
import falcon
import pytest
from falcon import testing

from gateway import uploads
from gateway.resources.importer import too_large as importer_too_large
from svckit.blobstore import LocalBlobStore
from svckit.errors import ApiError, ValidationFailed
from svckit.rpc_client import BrokenAfterSend, NotApplied, RpcTimeout

BOUNDARY = "xYzZy"


def multipart_request(file_bytes: bytes, field="data_file") -> falcon.Request:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model_type\"\r\n\r\n"
            f"part\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"data.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    body += file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()
    env = testing.create_environ(
        method="POST", path="/api/importer/session/", body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    return falcon.Request(env)


def files_under(root):
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("size", [5000, uploads.CHUNK + 5000])  # streamed / by Content-Length
def test_importer_too_large_is_its_400_and_leaves_no_blob(tmp_path, size):
    blobs = LocalBlobStore(tmp_path)
    req = multipart_request(b"a,b\n" + b"x" * size)
    with pytest.raises(ValidationFailed) as info:
        with uploads.request_data(req, blobs, "data_file", 1000, 1000,
                                  too_large=importer_too_large):
            pytest.fail("the block must not run")
    assert info.value.status == 400
    assert info.value.detail == {"data_file": ["Data file exceeds maximum size limit"]}
    assert req.context.close_connection is True
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("size", [5000, uploads.CHUNK + 5000])
def test_default_too_large_stays_413(tmp_path, size):
    blobs = LocalBlobStore(tmp_path)
    with pytest.raises(ApiError) as info:
        uploads.read_form(multipart_request(b"x" * size), blobs, "data_file", 1000)
    assert info.value.status == 413
    assert info.value.detail == {"detail": "Upload exceeds the maximum size of 1000 bytes"}
    assert files_under(tmp_path) == []


def test_upload_within_limit_is_checked_in_and_removed_after_the_block(tmp_path):
    blobs = LocalBlobStore(tmp_path)
    req = multipart_request(b"a,b\n1,2\n")
    with uploads.request_data(req, blobs, "data_file", 1000, 1000,
                              too_large=importer_too_large) as (data, upload):
        assert data == {"model_type": "part"}
        assert upload["name"] == "data.csv" and upload["size"] == 8
        assert upload["key"].startswith("incoming/")
        assert len(files_under(tmp_path)) == 1
    assert files_under(tmp_path) == []
    assert not req.context.get("close_connection")


@pytest.mark.parametrize("error, kept", [
    (RpcTimeout({"detail": "no answer"}), True),  # still queued: it may run later
    (BrokenAfterSend({"detail": "broken after the send"}), True),
    (NotApplied("connection refused"), False),  # never sent
    (ValidationFailed({"detail": "refused"}), False),
])
def test_an_upload_whose_outcome_is_unknown_keeps_its_blob_for_the_queued_request(
        tmp_path, error, kept):
    """A request answered 503 "outcome unknown" may still run once the service is back (the
    whole broker down: it waited in its queue); its file must be there then, or it would
    fail "the uploaded file is gone" and a repeat with the same Idempotency-Key would get
    that answer. Any other ending removes the blob at once."""
    blobs = LocalBlobStore(tmp_path)
    with pytest.raises(type(error)):
        with uploads.request_data(multipart_request(b"a,b\n1,2\n"), blobs, "data_file", 1000,
                                  1000, too_large=importer_too_large):
            raise error
    assert len(files_under(tmp_path)) == (1 if kept else 0)
