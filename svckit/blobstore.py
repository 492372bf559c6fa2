"""Blob storage for uploaded files: a local directory or an S3 bucket.

Files may be hundreds of megabytes, so blobs are only ever written from and read into
chunk iterators; no method holds a whole blob in memory (except `read_all`, which is
bounded by its caller's limit).

Keys are relative POSIX paths such as `attachments/part/1/file.pdf` or `incoming/<uuid>`.
Every method validates its key (see `check_key`) and raises ValueError for a bad one.
"""
import abc
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

MB = 1024 * 1024
TEMP_PREFIX = ".tmp-"  # the local store's temporary files; reserved in keys


class BlobTooLarge(Exception):
    """More than `max_bytes` arrived in `write`; the partial blob has already been removed."""


@dataclass(frozen=True)
class BlobInfo:
    size: int
    sha256: str  # hex digest


def check_key(key: str) -> str:
    """`key` if it is a relative path of non-empty segments without `.`/`..`, backslashes,
    control characters or segments starting with `.tmp-`; ValueError otherwise."""
    if (not isinstance(key, str) or not key or key.startswith("/") or "\\" in key
            or any(unicodedata.category(c) == "Cc" for c in key)):
        raise ValueError(f"invalid blob key: {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or segment.startswith(TEMP_PREFIX):
            raise ValueError(f"invalid blob key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """`prefix` if some valid key could start with it ("" and "incoming/" both can)."""
    if prefix:
        check_key(prefix + "x")
    return prefix


class _Meter:
    """Counts and hashes bytes as they pass; raises BlobTooLarge once past `max_bytes`."""

    def __init__(self, max_bytes: int | None):
        self.max_bytes = max_bytes
        self.size = 0
        self.hash = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise BlobTooLarge(f"more than {self.max_bytes} bytes")
        self.hash.update(chunk)

    def info(self) -> BlobInfo:
        return BlobInfo(self.size, self.hash.hexdigest())


class BlobStore(abc.ABC):
    """Where uploaded files live. Subclasses: LocalBlobStore, S3BlobStore."""

    @abc.abstractmethod
    def write(self, key: str, chunks: Iterable[bytes], max_bytes: int | None = None) -> BlobInfo:
        """Stream `chunks` into `key` (replacing any blob there: callers use fresh keys) and
        return its size and sha256. Past `max_bytes` the partial blob is removed and
        BlobTooLarge raised; any other exception on the way (say, `chunks` raising because
        the client went away) also removes it and propagates."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The blob's size in bytes, None when there is no such blob."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    @abc.abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None,
             chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """Bytes [start, end) of the blob (to its end when `end` is None) in chunks of at
        most `chunk_size`. The call itself raises FileNotFoundError for a missing blob,
        before any iteration, so a caller can still answer 404."""

    def read_all(self, key: str, limit: int) -> bytes:
        """The whole blob, for small files such as SVGs; ValueError if it exceeds `limit`."""
        data = b"".join(self.read(key, 0, limit + 1))
        if len(data) > limit:
            raise ValueError(f"blob {key!r} is larger than {limit} bytes")
        return data

    @abc.abstractmethod
    def copy(self, src: str, dst: str) -> bool:
        """Copy blob `src` to `dst` unless `dst` exists: False (and nothing changed) then.
        FileNotFoundError when `src` is missing."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; a missing one is fine."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified as naive UTC) of every blob whose key starts with `prefix`."""

    def local_path(self, key: str) -> Path | None:
        """A filesystem path of the blob (for sendfile), or None when blobs are not files."""
        return None


class LocalBlobStore(BlobStore):
    """Blobs as files under `root`.

    Writes go to a temporary file in the target's directory and are renamed into place, so
    a key never holds a half-written file. `copy` hard-links, which is safe because no
    blob file is ever modified in place.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def write(self, key, chunks, max_bytes=None):
        path = self._path(key)
        fd, temp = _in_new_parent(path, lambda: tempfile.mkstemp(prefix=TEMP_PREFIX,
                                                                  dir=path.parent))
        meter = _Meter(max_bytes)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    meter.add(chunk)
                    out.write(chunk)
            os.replace(temp, path)
        except BaseException:
            _unlink(temp)
            self._prune(path.parent)
            raise
        return meter.info()

    def size(self, key):
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def read(self, key, start=0, end=None, chunk_size=256 * 1024):
        if start < 0:
            raise ValueError("start must not be negative")
        return _read_file(open(self._path(key), "rb"), start, end, chunk_size)

    def copy(self, src, dst):
        src_path, dst_path = self._path(src), self._path(dst)
        try:
            _in_new_parent(dst_path, lambda: os.link(src_path, dst_path))
        except FileExistsError:
            return False
        except FileNotFoundError:  # no src: undo the directories made for dst
            self._prune(dst_path.parent)
            raise
        except OSError as e:
            if e.errno not in (errno.EMLINK, errno.EXDEV, errno.EPERM, errno.ENOTSUP):
                raise
            return self._copy_streamed(src_path, dst_path)
        return True

    def _copy_streamed(self, src_path: Path, dst_path: Path) -> bool:
        """`copy` where src cannot be hard-linked: stream it into a temporary file, then link
        that to dst (still atomic and never overwriting)."""
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=dst_path.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(src_path, "rb") as source:
                shutil.copyfileobj(source, out, MB)
            os.link(temp, dst_path)
        except FileExistsError:
            return False
        finally:
            _unlink(temp)
        return True

    def delete(self, key):
        path = self._path(key)
        _unlink(path)
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove `directory` and its ancestors while they are empty, keeping root and its
        direct children (`incoming/`, `attachments/`: every upload passes through them)."""
        while directory != self.root and directory.parent != self.root:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def list(self, prefix):
        base = self.root / check_prefix(prefix).rpartition("/")[0]
        for dirpath, _, filenames in os.walk(base):
            for name in filenames:
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if name.startswith(TEMP_PREFIX) or not key.startswith(prefix):
                    continue
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:  # deleted while we walked
                    continue
                yield key, datetime.fromtimestamp(mtime, timezone.utc).replace(tzinfo=None)

    def local_path(self, key):
        return self._path(key)


def _in_new_parent(path: Path, action, attempts: int = 5):
    """Create `path`'s parent directories and run `action`, again if a concurrent `delete`
    pruned the (then empty) directories in between: mkdir raises FileExistsError when the
    directory goes between its own steps, and `action` FileNotFoundError when it goes after."""
    for attempt in range(1, attempts + 1):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return action()
        except (FileExistsError, FileNotFoundError) as exc:
            if attempt == attempts or isinstance(exc, FileExistsError) and path.exists():
                raise


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read_file(file, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
    with file:
        stop = os.fstat(file.fileno()).st_size
        if end is not None:
            stop = min(stop, end)
        position = file.seek(start)
        while position < stop:
            chunk = file.read(min(chunk_size, stop - position))
            if not chunk:
                return
            position += len(chunk)
            yield chunk


class _ChunkReader:
    """A read-only file over an iterator of chunks, metering each chunk as it is pulled.

    `read(n)` returns exactly n bytes until the end: s3transfer sizes multipart parts (which
    must be at least 5 MB) by what one read returns.
    """

    def __init__(self, chunks: Iterable[bytes], meter: _Meter):
        self._chunks = iter(chunks)
        self._meter = meter
        self._buffer = bytearray()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._meter.add(chunk)
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


class S3BlobStore(BlobStore):
    """Blobs as objects in an S3 (or S3-compatible: MinIO, moto) bucket, under `prefix`.

    Credentials left None come from boto3's usual chain (environment, profile, role).
    """

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None,
                 prefix: str = ""):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        # 8 MB parts, two in flight and two buffered: an upload holds a few tens of MB at most.
        self.transfer = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB,
                                       max_concurrency=2, preferred_transfer_client="classic")
        self.transfer.max_in_memory_upload_chunks = 2

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if not _missing(e):
                raise
            region = self.client.meta.region_name
            extra = ({} if region in (None, "us-east-1")
                     else {"CreateBucketConfiguration": {"LocationConstraint": region}})
            self.client.create_bucket(Bucket=self.bucket, **extra)

    def write(self, key, chunks, max_bytes=None):
        """See BlobStore.write. s3transfer aborts a failed multipart upload; the object is
        also deleted afterwards in case a single-request upload got through."""
        name = self._key(key)
        meter = _Meter(max_bytes)
        try:
            self.client.upload_fileobj(_ChunkReader(chunks, meter), self.bucket, name,
                                       Config=self.transfer)
        except BaseException:
            self._quietly_delete(name)
            raise
        return meter.info()

    def _quietly_delete(self, name: str) -> None:
        """Delete during error handling, keeping the original error if this fails too."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=name)
        except (BotoCoreError, ClientError):
            pass

    def size(self, key):
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except ClientError as e:
            if _missing(e):
                return None
            raise

    def read(self, key, start=0, end=None, chunk_size=256 * 1024):
        if start < 0:
            raise ValueError("start must not be negative")
        if end is not None and end <= start:  # an empty range: S3 cannot express it
            if not self.exists(key):
                raise FileNotFoundError(key)
            return iter(())
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **extra)["Body"]
        except ClientError as e:
            if _missing(e):
                raise FileNotFoundError(key) from e
            if _error_code(e) == "InvalidRange":  # start is at or past the end
                return iter(())
            raise
        return _read_body(body, chunk_size)

    def copy(self, src, dst):
        """See BlobStore.copy. S3 has no "copy unless present", so this checks, then copies
        server side: safe only because callers serialise the writers of any one key."""
        source, target = self._key(src), self._key(dst)
        if self.size(dst) is not None:
            return False
        try:
            self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target,
                             Config=self.transfer)
        except ClientError as e:
            if _missing(e):
                raise FileNotFoundError(src) from e
            raise
        return True

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix):
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + check_prefix(prefix))
        for page in pages:
            for item in page.get("Contents", ()):
                modified = item["LastModified"].astimezone(timezone.utc).replace(tzinfo=None)
                yield item["Key"][len(self.prefix):], modified


def _error_code(error) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _missing(error) -> bool:
    return _error_code(error) in ("404", "NoSuchKey", "NotFound")


def _read_body(body, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def blob_store_of(setting: Callable[..., Any], data_dir: Callable[[], Path]) -> BlobStore:
    """The blob store MEDIA_STORAGE names, its options read with `setting(name, default)`
    only for that kind: MEDIA_ROOT (else `data_dir()/media`), or the S3_* settings."""
    kind = setting("MEDIA_STORAGE", "local").strip().lower()
    if kind == "local":
        root = setting("MEDIA_ROOT")
        return LocalBlobStore(Path(root) if root else data_dir() / "media")
    if kind == "s3":
        return S3BlobStore(
            bucket=setting("S3_BUCKET", "inventree-media"),
            endpoint_url=setting("S3_ENDPOINT_URL"),
            region=setting("S3_REGION", "us-east-1"),
            access_key=setting("S3_ACCESS_KEY_ID"),
            secret_key=setting("S3_SECRET_ACCESS_KEY"),
            prefix=setting("S3_PREFIX", ""))
    raise ValueError(f"MEDIA_STORAGE must be 'local' or 's3', not {kind!r}")
