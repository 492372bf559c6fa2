"""Streaming a stored file to the client: Content-Type by name, `Content-Disposition:
attachment`, ETag, and single byte ranges (RFC 9110 §14); multiple ranges get the whole file."""
import re
from urllib.parse import quote

from gateway.metrics import MEDIA_BYTES_SERVED
from svckit.blobstore import BlobStore
from svckit.errors import NotFound

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _position(digits: str) -> int | None:
    """A byte position; any number of digits (a 4,300-digit one is still just "past the
    end", never an int() conversion error)."""
    if digits == "":
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 30 else 10**30


def byte_range(header: str | None, size: int):
    """(start, end exclusive) for a satisfiable single range, None for no (usable) range,
    or "unsatisfiable"."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = (_position(g) for g in match.groups())
    if first is None:  # the last N bytes
        assert last is not None  # "bytes=-" was answered above
        if last == 0:
            return "unsatisfiable"
        return max(size - last, 0), size
    start = first
    end = size if last is None else min(last + 1, size)
    if start >= size:
        return "unsatisfiable"
    if end <= start:
        return None  # last < first: the header is invalid, ignore it
    return start, end


class _Limited:
    """A file object read from its current position for at most `remaining` bytes
    (gunicorn sends real files with sendfile, bounded by Content-Length)."""

    def __init__(self, f, remaining: int):
        self._f = f
        self.remaining = remaining

    def read(self, size=-1):
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._f.read(size)
        self.remaining -= len(data)
        return data

    def fileno(self):
        return self._f.fileno()

    def close(self):
        self._f.close()


class _Chunks:
    """A file-like reader over a chunk iterator (remote stores)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)

    def read(self, size=-1):
        return next(self._chunks, b"")

    def close(self):
        close = getattr(self._chunks, "close", None)
        if close:
            close()


def disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename)}"
    return value


def send_blob(req, resp, blobs: BlobStore, info: dict):
    size, key = int(info["size"]), info["key"]
    resp.content_type = info["content_type"]
    resp.set_header("Content-Disposition", disposition(info["filename"]))
    resp.set_header("Accept-Ranges", "bytes")
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.set_header("Cache-Control", "private, no-cache")
    if info.get("sha256"):
        resp.set_header("ETag", f'"{info["sha256"]}"')
    wanted = byte_range(req.get_header("Range"), size)
    if wanted == "unsatisfiable":
        resp.status = 416
        resp.set_header("Content-Range", f"bytes */{size}")
        resp.content_type = "text/plain"
        resp.text = "Requested range not satisfiable"
        return
    start, end = wanted or (0, size)
    if wanted:
        resp.status = 206
        resp.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
    resp.content_length = end - start
    if req.method == "HEAD":
        return
    MEDIA_BYTES_SERVED.inc(end - start)
    path = blobs.local_path(key)
    if path is not None:
        try:
            f = open(path, "rb")
        except FileNotFoundError:  # deleted since it was looked up
            raise NotFound()
        f.seek(start)
        resp.stream = _Limited(f, end - start)
    else:
        resp.stream = _Chunks(blobs.read(key, start, end, CHUNK))
