"""A readable local path for a blob, since data files are read from paths
(services.importer.datafile): the file itself for local storage, else a temporary download
removed afterwards."""
import os
import tempfile
from pathlib import Path

from svckit.blobstore import BlobStore

from .metrics import BYTES_READ


class LocalCopy:
    """`temp_dir`: where a download goes (the process's data directory)."""

    def __init__(self, blobs: BlobStore, key: str, temp_dir: Path):
        self.blobs, self.key, self.temp_dir, self.temp = blobs, key, temp_dir, None

    def __enter__(self) -> Path:
        path = self.blobs.local_path(self.key)
        if path is None:
            fd, name = tempfile.mkstemp(prefix="import-", dir=self.temp_dir)
            path = self.temp = Path(name)
            with os.fdopen(fd, "wb") as out:
                for chunk in self.blobs.read(self.key):
                    out.write(chunk)
        BYTES_READ.inc(path.stat().st_size)
        return path

    def __exit__(self, *exc):
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
