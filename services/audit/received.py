"""A received event, read once for everything that recording it needs: its time parsed, and
its payload's canonical JSON text, which the hash check (svckit.hashchain.wire_hash), the
stored line (services.audit.eventlines) and the payload column all use, so that a payload is
encoded once instead of three times."""
from dataclasses import dataclass
from datetime import datetime

from svckit.hashchain import canonical_text, wire_hash


@dataclass(slots=True)
class Received:
    event: dict
    created: datetime  # naive UTC, as stored
    payload_text: str

    @classmethod
    def of(cls, event: dict) -> "Received":
        created = datetime.fromisoformat(str(event["created"]).removesuffix("Z"))
        return cls(event, created, canonical_text(event["payload"]))

    @property
    def chained(self) -> bool:
        """Whether it carries its place in its service's hash chain."""
        return bool(self.event.get("hash") and self.event.get("chain_seq"))

    def hash_matches(self) -> bool:
        """Whether its hash is the one its content makes."""
        return wire_hash(self.event, self.payload_text) == self.event["hash"]
