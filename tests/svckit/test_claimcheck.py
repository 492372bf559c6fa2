"""svckit.claimcheck: the rules of the blob store's `incoming/` area that the gateway and the
services holding files (attachments, importer) share."""
import os
import time

import pytest

from svckit import claimcheck
from svckit.blobstore import LocalBlobStore
from svckit.errors import ValidationFailed


@pytest.fixture
def blobs(tmp_path):
    return LocalBlobStore(tmp_path / "media")


def checked_in(blobs, data: bytes = b"content") -> dict:
    """An upload as the gateway hands it over."""
    key = claimcheck.new_key()
    info = blobs.write(key, [data])
    return {"key": key, "name": "file.txt", "size": info.size, "sha256": info.sha256}


def read(blobs, key) -> bytes:
    return b"".join(blobs.read(key))


def test_a_key_the_gateway_made_is_valid(blobs):
    upload = checked_in(blobs)
    assert upload["key"].startswith("incoming/")
    assert claimcheck.incoming_key(upload, "data_file") == upload["key"]
    assert claimcheck.new_key() != claimcheck.new_key()


@pytest.mark.parametrize("upload", [
    None, {}, {"key": None}, {"key": 7}, {"key": ""}, {"key": "incoming/"},
    {"key": "attachments/part/1/spec.pdf"},  # another service's file
    {"key": "import/codes.csv"},
    {"key": "incoming/a/b"},  # not directly under incoming/
    {"key": "incoming/../attachments/part/1/spec.pdf"},
    {"key": "incoming/.."}, {"key": "incoming/."},
    {"key": "/incoming/abc"}, {"key": "/etc/passwd"}, {"key": "../incoming/abc"},
    {"key": "incoming/a\\..\\b"}, {"key": "incoming/abc\n"},
    {"key": "incoming/.tmp-123"},  # the local store's half-written files
    "incoming/abc",  # not an upload at all
])
def test_keys_outside_incoming_are_refused_on_the_field(upload):
    with pytest.raises(ValidationFailed) as refused:
        claimcheck.incoming_key(upload, "attachment")
    assert refused.value.detail == {"attachment": ["Invalid upload reference"]}


def test_a_missing_blob_is_a_400_and_places_nothing(blobs):
    with pytest.raises(ValidationFailed) as gone:
        claimcheck.claim(blobs, "incoming/never-written", "import/codes.csv", "data_file")
    assert gone.value.detail == {"data_file": ["The uploaded file is gone; send it again"]}
    assert list(blobs.list("")) == []


def test_reading_a_missing_blob_is_the_same_400(blobs):
    with pytest.raises(ValidationFailed) as gone:
        with claimcheck.still_there("image"):
            read(blobs, "incoming/never-written")
    assert gone.value.detail == {"image": ["The uploaded file is gone; send it again"]}


def test_claiming_twice(blobs):
    """A claim never overwrites; the incoming blob stays until its claim is committed (a
    retry may claim it again), and once discarded it cannot be claimed any more."""
    upload = checked_in(blobs, b"first")
    taken = checked_in(blobs, b"second")
    assert claimcheck.claim(blobs, upload["key"], "import/data.csv", "data_file") is True
    assert read(blobs, "import/data.csv") == b"first"
    assert claimcheck.claim(blobs, taken["key"], "import/data.csv", "data_file") is False
    assert read(blobs, "import/data.csv") == b"first"
    assert claimcheck.claim(blobs, upload["key"], "import/retry.csv", "data_file") is True
    claimcheck.discard(blobs, upload)
    assert not blobs.exists(upload["key"]) and read(blobs, "import/retry.csv") == b"first"
    with pytest.raises(ValidationFailed):
        claimcheck.claim(blobs, upload["key"], "import/again.csv", "data_file")
    claimcheck.discard(blobs, upload)  # twice is fine, and so is no upload
    claimcheck.discard(blobs, None)
    assert sorted(k for k, _ in blobs.list("")) == ["import/data.csv", "import/retry.csv",
                                                    taken["key"]]


def test_sweep_deletes_stale_uploads_only(blobs):
    stale, fresh = checked_in(blobs), checked_in(blobs)
    blobs.write("import/old.csv", [b"x"])
    eleven_minutes_ago = time.time() - 660
    for key in (stale["key"], "import/old.csv"):
        os.utime(blobs.local_path(key), (eleven_minutes_ago, eleven_minutes_ago))
    assert claimcheck.sweep(blobs, 600) == 1
    assert sorted(k for k, _ in blobs.list("")) == ["import/old.csv", fresh["key"]]
