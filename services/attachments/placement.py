"""Where files go, so that storage and rows never disagree for long.

An upload arrives as a blob under `incoming/` (the gateway streamed it there: the claim
check, svckit.claimcheck). To place it, the service first *claims* its final key in the
database (a key no row uses and no claim holds), then copies the blob there without
overwriting, and the write that records the attachment deletes the claim in the same
transaction (`commit`). A key whose blob must go (its attachment was deleted or renamed)
gets a claim that is due at once, written in the same transaction as the event, and is
deleted after the commit.

The sweeper deletes, for every due claim, the blob if no row refers to its key, and blobs
left under `incoming/` by requests that never finished. Whoever deletes a claim row decides
its blob's fate, so an upload's commit and the sweeper never both act on one key.
"""
from datetime import timedelta
from typing import Callable

from sqlalchemy import delete, exists, insert, or_, select

from svckit import claimcheck
from svckit.blobstore import BlobStore
from svckit.db import Database
from svckit.errors import ApiError, ServiceUnavailable
from svckit.events import utcnow

from .files import random_suffix, with_suffix
from .models import attachments, blob_claims, notes_images
from .settings import AttachmentsSettings

ATTEMPTS = 20


class Placement:
    """The service's database and blob store, for commands that place or remove files: they
    open their own units of work, since files are placed before the transaction that records
    them and removed after it."""

    def __init__(self, db: Database, blobs: BlobStore, settings: AttachmentsSettings):
        self.db = db
        self.blobs = blobs
        self.settings = settings  # the process's: how long claims last, the file rules
        self.claim_seconds = settings.BLOB_CLAIM_SECONDS

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

    def place_upload(self, directory: str, name: str, upload: dict, field: str) -> str:
        """Place the incoming blob of `upload` (svckit.claimcheck; a blob gone is a 400 on
        `field`); returns its key."""
        source = upload["key"]
        return self._place(directory, name,
                           lambda key: claimcheck.claim(self.blobs, source, key, field))

    def place_copy(self, directory: str, name: str, source: str) -> str:
        """Place a copy of the blob `source`; returns its key."""
        return self._place(directory, name, lambda key: self.blobs.copy(source, key))

    def place_bytes(self, directory: str, name: str, data: bytes) -> str:
        """Place a blob holding `data`; returns its key."""
        def put(key: str) -> bool:
            if self.blobs.exists(key):
                return False
            self.blobs.write(key, [data])
            return True
        return self._place(directory, name, put)

    def _place(self, directory: str, name: str, put: Callable[[str], bool]) -> str:
        """Claim `directory/name` (or, on a clash, `name` with a random suffix) and
        `put(key)` the blob there (False: a blob was there already, nothing written).
        Returns the key; the caller must `settle()` it in its commit or `abandon()` it."""
        for attempt in range(ATTEMPTS):
            key = f"{directory}/{name if attempt == 0 else with_suffix(name, random_suffix())}"
            if not self._claim(key):
                continue
            try:
                placed = put(key)
            except BaseException:
                self.abandon(key)
                raise
            if placed:
                return key
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

    def commit(self, placed_key: str | None, write, garbage=()):
        """Run `write(session)` in one transaction that settles `placed_key` and dooms the
        blobs in `garbage` (a list `write` may fill: it runs first, under the object's
        lock); on failure the placed blob goes. After the commit, the doomed blobs are
        deleted. Returns what `write` returned."""
        try:
            with self.db.write() as s:
                if placed_key:
                    self.settle(s, placed_key)
                result = write(s)
                for key in garbage:
                    self.doom(s, key)
        except BaseException:
            if placed_key:
                self.abandon(placed_key)
            raise
        if garbage:
            self.collect(garbage)
        return result

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
        return {"claims": collected, "incoming": claimcheck.sweep(self.blobs,
                                                                self.settings.INCOMING_BLOB_SECONDS)}
