"""A readable local path for a blob, since data files are read from paths
(services.importer.datafile): the file itself for local storage, else a temporary download
removed afterwards."""
import os
import tempfile
from pathlib import Path

from svckit import config
from svckit.blobstore import BlobStore

from .metrics import BYTES_READ


class LocalCopy:
    def __init__(self, blobs: BlobStore, key: str):
        self.blobs, self.key, self.temp = blobs, key, None

    def __enter__(self) -> Path:
        path = self.blobs.local_path(self.key)
        if path is None:
            fd, name = tempfile.mkstemp(prefix="import-", dir=config.data_dir())
            path = self.temp = Path(name)
            with os.fdopen(fd, "wb") as out:
                for chunk in self.blobs.read(self.key):
                    out.write(chunk)
        BYTES_READ.inc(path.stat().st_size)
        return path

    def __exit__(self, *exc):
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
