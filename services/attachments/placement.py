"""Where files go, so that storage and rows never disagree for long.

An upload arrives as a blob under `incoming/` (the gateway streamed it there: the claim
check). To place it, the service first *claims* its final key in the database (a key no row
uses and no claim holds), then copies the blob there without overwriting, and the write
that records the attachment deletes the claim in the same transaction. A key whose blob
must go (its attachment was deleted or renamed) gets a claim that is due at once, written
in the same transaction as the event, and is deleted after the commit.

The sweeper deletes, for every due claim, the blob if no row refers to its key, and blobs
left under `incoming/` by requests that never finished. Whoever deletes a claim row decides
its blob's fate, so an upload's commit and the sweeper never both act on one key.
"""
from datetime import timedelta

from sqlalchemy import delete, exists, insert, or_, select

from svckit import config
from svckit.blobstore import BlobStore
from svckit.db import Database
from svckit.errors import ApiError, ServiceUnavailable
from svckit.events import utcnow

from .files import random_suffix, with_suffix
from .models import attachments, blob_claims, notes_images

INCOMING = "incoming/"
ATTEMPTS = 20


class Placement:
    def __init__(self, db: Database, blobs: BlobStore):
        self.db = db
        self.blobs = blobs
        self.claim_seconds = config.setting("BLOB_CLAIM_SECONDS", 3600, int)
        self.incoming_seconds = config.setting("INCOMING_BLOB_SECONDS", 3600, int)

    @staticmethod
    def _in_use(key):
        return or_(exists().where(attachments.c.file_key == key),
                   exists().where(notes_images.c.file_key == key),
                   exists().where(blob_claims.c.key == key))

    def _claim(self, key: str) -> bool:
        with self.db.write(notify=False) as s:
            if s.execute(select(self._in_use(key))).scalar():
                return False
            s.execute(insert(blob_claims).values(
                key=key, due=utcnow() + timedelta(seconds=self.claim_seconds)))
            return True

    def place(self, directory: str, name: str, source: str | None = None,
              data: bytes | None = None):
        """Claim `directory/name` (or, on a clash, `name` with a random suffix) and put the
        blob `source` (or the bytes `data`) there, never overwriting. Returns (key, BlobInfo
        or None). The caller must `settle()` the key in its commit or `abandon()` it."""
        for attempt in range(ATTEMPTS):
            key = f"{directory}/{name if attempt == 0 else with_suffix(name, random_suffix())}"
            if not self._claim(key):
                continue
            try:
                if data is not None:
                    placed = not self.blobs.exists(key)
                    info = self.blobs.write(key, [data]) if placed else None
                else:
                    placed, info = self.blobs.copy(source, key), None
            except BaseException:
                self.abandon(key)
                raise
            if placed:
                return key, info
            self._release(key)  # a file we do not know of sits there: leave it alone
        raise ApiError({"detail": f"No free file name for {name!r} in {directory}"}, 409)

    def _release(self, key: str):
        with self.db.write(notify=False) as s:
            s.execute(delete(blob_claims).where(blob_claims.c.key == key))

    @staticmethod
    def settle(session, key: str):
        """In the transaction that records the row using `key`: the claim is fulfilled."""
        if session.execute(delete(blob_claims).where(blob_claims.c.key == key)).rowcount != 1:
            raise ServiceUnavailable({"detail": "The upload took too long and was discarded; "
                                                "please try again"})

    def abandon(self, key: str):
        """After a failed commit: the placed blob goes, then its claim."""
        self.blobs.delete(key)
        self._release(key)

    @staticmethod
    def doom(session, key: str):
        """In the transaction that stops using `key`: its blob is to be deleted."""
        session.execute(delete(blob_claims).where(blob_claims.c.key == key))
        session.execute(insert(blob_claims).values(key=key, due=utcnow()))

    def collect(self, keys) -> int:
        """Delete the blobs of due claims on `keys` that no row uses; returns how many."""
        count = 0
        for key in keys:
            with self.db.read() as s:
                due = s.execute(select(blob_claims.c.key).where(
                    blob_claims.c.key == key, blob_claims.c.due <= utcnow(),
                    ~exists().where(attachments.c.file_key == key),
                    ~exists().where(notes_images.c.file_key == key))).first()
            if due:  # the claim blocks any new use of the key until it is released
                self.blobs.delete(key)
                self._release(key)
                count += 1
        return count

    def sweep(self) -> dict:
        """Delete orphaned blobs: those of due claims, and stale `incoming/` uploads."""
        with self.db.read() as s:
            due = list(s.execute(select(blob_claims.c.key).where(
                blob_claims.c.due <= utcnow())).scalars())
        collected = self.collect(due)
        cutoff = utcnow() - timedelta(seconds=self.incoming_seconds)
        stale = [key for key, modified in self.blobs.list(INCOMING) if modified < cutoff]
        for key in stale:
            self.blobs.delete(key)
        return {"claims": collected, "incoming": len(stale)}
