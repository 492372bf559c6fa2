"""The operator console (README "Console"): the files `npm run build` wrote into `console/dist`
(`CONSOLE_DIR`), served at `/console/`.

- Only files found by walking that directory are served (regular files, no symlinks), looked
  up by their relative path: a request's path is never joined to a filesystem path, so
  `..`, encoded slashes or absolute paths cannot reach anything else.
- `assets/` holds the bundles, named by their content hash: cached for a year as
  `immutable`; everything else (index.html) `no-cache`, so a new build is seen at once.
  Every file has an ETag (its sha256) and answers `If-None-Match` with 304; text files are
  sent gzipped to clients that accept it.
- Any other path under `/console/` without a file extension is a page of the single-page
  app: index.html (the app's router shows it); a missing asset is a 404.
- The pages may load scripts, styles, images and API calls from this origin only (CSP).

The directory is read when first asked for and again whenever its index.html changes, so a
rebuild under a running gateway is served without a restart."""
import gzip
import hashlib
import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import falcon

from gateway import http
from svckit.layout import ROOT

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'")
IMMUTABLE = "public, max-age=31536000, immutable"
TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml",
              "application/manifest+json")
TYPES = {".js": "application/javascript", ".mjs": "application/javascript", ".css": "text/css",
         ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
         ".webmanifest": "application/manifest+json", ".ico": "image/x-icon",
         ".png": "image/png", ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8"}
MAX_FILE_BYTES = 16 * 1024 * 1024  # a built file larger than this is not served


@dataclass(frozen=True)
class File:
    content_type: str
    data: bytes
    etag: str
    gzipped: bytes | None  # the same bytes gzipped, for text that shrinks


@dataclass(frozen=True)
class Build:
    files: dict[str, File]  # relative posix path -> file
    index_mtime: int

    def find(self, path: str) -> File | None:
        return self.files.get(path)


def content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    return TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def read_build(directory: Path) -> Build | None:
    """Every regular file under `directory` (symlinks are not followed), or None when it has
    no index.html (the console is not built)."""
    index = directory / "index.html"
    try:
        index_mtime = index.stat().st_mtime_ns
    except OSError:
        return None
    files = {}
    for top, dirs, names in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
        for name in names:
            full = os.path.join(top, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            if os.path.getsize(full) > MAX_FILE_BYTES:
                continue
            with open(full, "rb") as f:
                data = f.read()
            kind = content_type(name)
            packed = gzip.compress(data, 9, mtime=0) if kind.startswith(TEXT_TYPES) else None
            files[os.path.relpath(full, directory).replace(os.sep, "/")] = File(
                kind, data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"',
                packed if packed is not None and len(packed) < len(data) else None)
    return Build(files, index_mtime)


class BuildCache:
    """The build of `directory`, read again when its index.html changes."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._build: Build | None = None
        self._lock = threading.Lock()

    def current(self) -> Build | None:
        try:
            mtime = (self.directory / "index.html").stat().st_mtime_ns
        except OSError:
            return None
        build = self._build
        if build is None or build.index_mtime != mtime:
            with self._lock:
                if self._build is None or self._build.index_mtime != mtime:
                    self._build = read_build(self.directory)
                build = self._build
        return build


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return etag in wanted


def is_page(path: str) -> bool:
    """A route of the app (no file extension in its last segment, not under assets/)."""
    return not path.startswith("assets/") and "." not in path.rsplit("/", 1)[-1]


class Console:
    """`GET /console/` and everything under it."""

    auth = "none"
    csrf_exempt = True
    content_security_policy = CONTENT_SECURITY_POLICY

    def __init__(self, directory: Path):
        self.builds = BuildCache(directory)

    def on_get(self, req, resp, path: str = ""):
        build = self.builds.current()
        if build is None:
            return http.send(resp, {"detail": "The console is not built: run `make run` (or "
                                              "`make console`) in the checkout"}, 404)
        found = build.find(path) if path else None
        if found is None and (path == "" or is_page(path)):
            path, found = "index.html", build.find("index.html")
        if found is None:
            return http.send(resp, {"detail": "Not found."}, 404)
        gzipped = found.gzipped is not None and "gzip" in (
            req.get_header("Accept-Encoding") or "").lower()
        etag = found.etag[:-1] + '-gz"' if gzipped else found.etag
        resp.set_header("ETag", etag)
        resp.set_header("Cache-Control", IMMUTABLE if path.startswith("assets/") else "no-cache")
        if found.gzipped is not None:
            resp.set_header("Vary", "Accept-Encoding")
        if etag_matches(req.get_header("If-None-Match"), etag):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = found.content_type
        if gzipped:
            resp.set_header("Content-Encoding", "gzip")
        resp.data = found.gzipped if gzipped else found.data

    on_head = on_get


class ConsoleRedirect:
    """`/` and `/console`: to the console (a mailed login link lands on `/`)."""

    auth = "none"
    csrf_exempt = True

    def on_get(self, req, resp):
        resp.status = falcon.HTTP_302
        resp.location = "/console/"
        resp.content_type = http.JSON
        resp.data = b"{}"

    on_head = on_get


def register(app, api):
    directory = Path(api.settings.CONSOLE_DIR) if api.settings.CONSOLE_DIR else (
        ROOT / "console" / "dist")
    console = Console(directory)
    app.add_route("/", ConsoleRedirect())
    app.add_route("/console", ConsoleRedirect())
    app.add_route("/console/", console)
    app.add_route("/console/{path:path}", console)
