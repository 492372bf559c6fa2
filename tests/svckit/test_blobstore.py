"""svckit.blobstore, run against both stores: a local directory and S3 (a moto server)."""
import errno
import hashlib
import os
import tracemalloc
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from svckit.blobstore import (
    MB,
    BlobInfo,
    BlobTooLarge,
    LocalBlobStore,
    S3BlobStore,
)
from svckit.settings import MediaSettings
from tests.s3server import start_s3_server


@pytest.fixture(scope="module")
def s3_endpoint():
    url, stop = start_s3_server()
    yield url
    stop()


def new_s3_store(endpoint: str) -> S3BlobStore:
    """A store in a fresh bucket, under the prefix `media/`."""
    store = S3BlobStore(f"test-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, region="us-east-1",
                        access_key="test", secret_key="test", prefix="media")
    store.ensure_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalBlobStore(tmp_path / "media")
    return new_s3_store(request.getfixturevalue("s3_endpoint"))


def is_local(store) -> bool:
    return isinstance(store, LocalBlobStore)


def leftovers(store) -> list:
    """Everything the store holds: files and directories under a local root (temporary
    files included) but the top-level directories, which stay; objects anywhere in an S3
    bucket and unfinished multipart uploads."""
    if is_local(store):
        return sorted(p for p in store.root.rglob("*")
                      if not (p.is_dir() and p.parent == store.root))
    objects = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    return [o["Key"] for o in objects] + [u["Key"] for u in uploads]


def megabytes(count: int, digest=None):
    """`count` chunks of 1 MB of random bytes, fed to `digest` on the way."""
    for _ in range(count):
        chunk = os.urandom(MB)
        if digest is not None:
            digest.update(chunk)
        yield chunk


def read(store, key, *args, **kwargs) -> bytes:
    return b"".join(store.read(key, *args, **kwargs))


def test_write_and_read_back(store):
    info = store.write("attachments/part/1/file.pdf", [b"hello ", b"", b"world"])

    assert info == BlobInfo(11, hashlib.sha256(b"hello world").hexdigest())
    assert read(store, "attachments/part/1/file.pdf") == b"hello world"
    assert store.size("attachments/part/1/file.pdf") == 11
    assert store.exists("attachments/part/1/file.pdf")
    assert store.read_all("attachments/part/1/file.pdf", 11) == b"hello world"
    with pytest.raises(ValueError):
        store.read_all("attachments/part/1/file.pdf", 10)


def test_missing_blob(store):
    assert store.size("attachments/none") is None
    assert not store.exists("attachments/none")
    with pytest.raises(FileNotFoundError):
        store.read("attachments/none")  # raised by the call, before iterating
    with pytest.raises(FileNotFoundError):
        store.read("attachments/none", 5, 5)
    with pytest.raises(FileNotFoundError):
        store.read_all("attachments/none", 100)


def test_write_replaces_and_empty_blobs(store):
    store.write("a/file", [b"first version"])
    assert store.write("a/file", [b"second"]).size == 6
    assert read(store, "a/file") == b"second"

    assert store.write("a/empty", []) == BlobInfo(0, hashlib.sha256(b"").hexdigest())
    assert store.size("a/empty") == 0
    assert read(store, "a/empty") == b""


def test_read_ranges(store):
    data = bytes(range(256)) * 4
    store.write("r/blob", [data])

    assert read(store, "r/blob", 100) == data[100:]
    assert read(store, "r/blob", 100, 200) == data[100:200]
    assert read(store, "r/blob", len(data) - 10) == data[-10:]
    assert read(store, "r/blob", 1000, 5000) == data[1000:]
    assert read(store, "r/blob", 5, 5) == b""
    assert read(store, "r/blob", 2000) == b""
    chunks = list(store.read("r/blob", 10, chunk_size=100))
    assert b"".join(chunks) == data[10:] and max(map(len, chunks)) <= 100


def test_max_bytes(store):
    assert store.write("m/exact", [b"12345", b"67890"], max_bytes=10).size == 10
    store.delete("m/exact")

    with pytest.raises(BlobTooLarge):
        store.write("m/over", [b"12345", b"67890", b"!"], max_bytes=10)
    assert leftovers(store) == []


def test_max_bytes_after_multipart_started(store):
    with pytest.raises(BlobTooLarge):
        store.write("incoming/big", megabytes(20), max_bytes=12 * MB)
    assert leftovers(store) == []


@pytest.mark.parametrize("size", [1, 10 * MB])
def test_failing_chunks_leave_nothing(store, size):
    def disconnecting():
        yield os.urandom(size)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write("incoming/upload", disconnecting())
    assert leftovers(store) == []


def test_copy(store):
    store.write("incoming/x", [b"content"])

    assert store.copy("incoming/x", "attachments/part/1/x.txt") is True
    store.delete("incoming/x")
    assert read(store, "attachments/part/1/x.txt") == b"content"

    store.write("attachments/part/1/y.txt", [b"other"])
    assert store.copy("attachments/part/1/x.txt", "attachments/part/1/y.txt") is False
    assert read(store, "attachments/part/1/y.txt") == b"other"


def test_local_copy_without_hard_links(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path)
    store.write("incoming/x", [b"content"])
    store.write("attachments/taken", [b"other"])
    real_link = os.link

    def link(src, dst):
        if not os.path.basename(src).startswith(".tmp-"):  # the source has too many links
            raise OSError(errno.EMLINK, "Too many links")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    assert store.copy("incoming/x", "attachments/copy") is True
    assert store.copy("incoming/x", "attachments/taken") is False

    assert read(store, "attachments/copy") == b"content"
    assert read(store, "attachments/taken") == b"other"
    assert not list(tmp_path.rglob(".tmp-*"))


def test_local_write_survives_a_concurrent_prune(tmp_path, monkeypatch):
    """A delete that prunes the empty parent directories while a write creates them again
    (mkdir sees the directory, then it is gone) must not fail the write."""
    store = LocalBlobStore(tmp_path)
    real_mkdir = os.mkdir
    raced = []

    def mkdir(path, mode=0o777):
        if not raced and os.path.basename(path) == "incoming":
            raced.append(path)
            real_mkdir(path, mode)
            os.rmdir(path)  # the prune, between mkdir's failure and its is_dir check
            raise FileExistsError(errno.EEXIST, "File exists", path)
        real_mkdir(path, mode)

    monkeypatch.setattr(os, "mkdir", mkdir)
    store.write("incoming/x", [b"content"])
    assert raced and read(store, "incoming/x") == b"content"


def test_copy_missing_source(store):
    with pytest.raises(FileNotFoundError):
        store.copy("incoming/none", "attachments/part/2/none")
    assert leftovers(store) == []


def test_delete(store):
    store.delete("never/there")
    store.write("a/b/c/file", [b"x"])
    store.write("a/keep", [b"y"])

    store.delete("a/b/c/file")

    assert not store.exists("a/b/c/file")
    assert store.exists("a/keep")
    if is_local(store):
        assert sorted(store.root.rglob("*")) == [store.root / "a", store.root / "a/keep"]
        store.delete("a/keep")
        assert leftovers(store) == []


def test_list(store):
    before = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) - timedelta(seconds=1)
    for key in ("incoming/one", "incoming/two", "incomingly", "attachments/part/1/f.pdf"):
        store.write(key, [b"x"])
    after = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=1)
    if is_local(store):  # an upload in progress
        (store.root / "incoming/.tmp-123").write_bytes(b"partial")

    listed = dict(store.list("incoming/"))

    assert sorted(listed) == ["incoming/one", "incoming/two"]
    assert all(before <= modified <= after for modified in listed.values())
    assert sorted(k for k, _ in store.list("incoming")) == ["incoming/one", "incoming/two",
                                                             "incomingly"]
    assert len(list(store.list(""))) == 4
    assert list(store.list("nothing/")) == []


BAD_KEYS = ["", "/abs", "..", "a/../b", "./a", "a//b", "a/", "a\\b", "a\x00b", "a\nb", "\x7f",
            "a/.tmp-1"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys(store, key):
    calls = [lambda: store.write(key, [b"x"]), lambda: store.size(key),
             lambda: store.exists(key), lambda: store.read(key), lambda: store.read_all(key, 9),
             lambda: store.copy(key, "ok"), lambda: store.copy("ok", key),
             lambda: store.delete(key)]
    if is_local(store):
        calls.append(lambda: store.local_path(key))
    for call in calls:
        with pytest.raises(ValueError):
            call()
    with pytest.raises(ValueError):
        list(store.list("../"))


def test_local_path(store):
    store.write("p/file", [b"data"])
    if is_local(store):
        assert store.local_path("p/file").read_bytes() == b"data"
    else:
        assert store.local_path("p/file") is None


def test_large_streamed_write(store):
    sent = hashlib.sha256()
    info = store.write("incoming/large", megabytes(40, sent))

    assert info == BlobInfo(40 * MB, sent.hexdigest())
    received = hashlib.sha256()
    for chunk in store.read("incoming/large", chunk_size=MB):
        received.update(chunk)
    assert received.hexdigest() == sent.hexdigest()
    if not is_local(store):  # a multipart upload of five 8 MB parts
        head = store.client.head_object(Bucket=store.bucket, Key="media/incoming/large")
        assert head["ETag"].strip('"').endswith("-5")


def peak_memory(action) -> int:
    """The most memory Python allocated (in any thread) while running `action`."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_local_write_and_read_use_bounded_memory(tmp_path):
    store = LocalBlobStore(tmp_path)

    def write_and_read():
        store.write("incoming/huge", megabytes(64))
        for _ in store.read("incoming/huge"):
            pass

    assert peak_memory(write_and_read) < 16 * MB
    assert store.size("incoming/huge") == 64 * MB


def test_s3_write_uses_bounded_memory(s3_endpoint):
    """Two 8 MB parts in flight and two buffered, plus the part being gathered: ~40 MB."""
    store = new_s3_store(s3_endpoint)
    assert peak_memory(lambda: store.write("incoming/huge", megabytes(96))) < 64 * MB
    assert store.size("incoming/huge") == 96 * MB


@pytest.fixture
def settings(monkeypatch):
    """Set environment variables, then build a process's settings and their store."""
    def build(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return MediaSettings().blob_store()

    return build


def test_local_store_from_settings(settings, tmp_path):
    store = settings(MEDIA_STORAGE="local", MEDIA_ROOT=str(tmp_path / "files"))
    assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "files"


def test_local_store_defaults_to_the_data_directory(tmp_path):
    store = MediaSettings(INVENTREE_DATA_DIR=str(tmp_path)).blob_store()
    assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "media"


def test_s3_store_from_settings(settings):
    store = settings(MEDIA_STORAGE="s3", S3_BUCKET="media", S3_PREFIX="inv",
                     S3_ENDPOINT_URL="http://127.0.0.1:1")
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.client.meta.endpoint_url) == (
        "media", "inv/", "http://127.0.0.1:1")


def test_unknown_media_storage(settings):
    with pytest.raises(ValueError):
        settings(MEDIA_STORAGE="ftp")
