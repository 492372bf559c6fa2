"""Tamper evidence: each service's event log is a hash chain.

Every event stores `hash`, the SHA-256 of its canonical form (`canonical_json` of the
service, id, stream, version, type, schema version, payload, actor, request id, time and
the previous event's hash), and `prev_hash`, the hash of the event before it in the
service's log; `chain_seq` numbers the chain 1, 2, 3... without gaps. The chain is extended
when a transaction that recorded events commits (svckit.events), so its order is the order
of commits. Editing an event breaks its hash, deleting one leaves a gap in `chain_seq` and a
`prev_hash` that points at nothing, and moving one breaks the `prev_hash` of its new
successor: `walk` finds the first such event.

Payload fields that are secrets (SECRET_KEYS: password hashes, token hashes) never leave the
service, so the canonical form holds only their digest (`secrets`): a subscriber such as the
audit service recomputes an event's hash from the published event (`wire_hash`).
"""
import hashlib
import json
from datetime import datetime
from typing import Any, Iterator, Sequence

GENESIS = "0" * 64  # the `prev_hash` of a log's first event
_PREV_KEY = ',"prev":'
SECRET_KEYS = frozenset({"password", "key_hash", "nonce", "csrf_token", "token", "secret"})


# one encoder for every canonical text (json.dumps with options builds one per call)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)


def canonical_text(doc: Any) -> str:
    """Sorted keys, no spaces: one text per value (`canonical_json` before its encoding)."""
    return _CANONICAL.encode(doc)


def canonical_json(doc: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: one byte string per value."""
    return canonical_text(doc).encode()


def split_payload(payload: dict) -> tuple[dict, dict]:
    """(public fields, secret fields) of a payload."""
    public = {k: v for k, v in payload.items() if k not in SECRET_KEYS}
    secret = {k: v for k, v in payload.items() if k in SECRET_KEYS}
    return public, secret


def secrets_digest(payload: dict) -> str:
    """SHA-256 of the payload's secret fields ("" when it has none)."""
    _, secret = split_payload(payload)
    return hashlib.sha256(canonical_json(secret)).hexdigest() if secret else ""


def time_text(value: datetime | str) -> str:
    """An event's time as ISO text without zone (stored times are naive UTC; published ones
    end in Z)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.removesuffix("Z"))
    return value.replace(tzinfo=None).isoformat()


def _digest(service: str, event: dict, public: dict, secrets: str, prev_hash: str,
            public_text: str | None = None) -> str:
    """The SHA-256 of the canonical form; `public_text`, when given, is `public`'s
    canonical text already made (the audit service stores that text too), put into the
    form of the other fields: byte for byte what `canonical_json` of the whole would be."""
    fields = {"actor": event["actor"], "created": time_text(event["created"]),
              "id": event["id"], "prev": prev_hash, "request_id": event["request_id"],
              "schema_version": event["schema_version"], "secrets": secrets,
              "service": service, "stream_id": str(event["stream_id"]),
              "stream_type": event["stream_type"], "type": event["type"],
              "version": event["version"]}
    if public_text is None:
        form = canonical_json({**fields, "payload": public})
    else:
        # "payload" sorts just before "prev"; the first `,"prev":` is that key, since a
        # quote inside a JSON string is always escaped
        text = canonical_text(fields)
        at = text.index(_PREV_KEY)
        form = f'{text[:at]},"payload":{public_text}{text[at:]}'.encode()
    return hashlib.sha256(form).hexdigest()


def row_hash(service: str, row, prev_hash: str) -> str:
    """The hash of a stored event (a row of `event_log`) that follows `prev_hash`."""
    public, _ = split_payload(row["payload"])
    return _digest(service, row, public, secrets_digest(row["payload"]), prev_hash)


def wire_hash(event: dict, payload_text: str | None = None) -> str:
    """The hash of a published event (svckit.events.wire_event), recomputed from what it
    carries: its public payload and the digest of its secrets. `payload_text`: the
    payload's `canonical_text`, when the caller made it already."""
    fields = {**event, "id": event["seq"]}
    return _digest(event["service"], fields, event["payload"], event.get("secrets", ""),
                   event["prev_hash"], payload_text)


def chain(service: str, rows: Sequence, seq: int, prev_hash: str) -> Iterator[dict]:
    """Chain `rows` (events in commit order) after position `seq` whose hash is
    `prev_hash`: for each, {"_id", "_seq", "_hash", "_prev"}."""
    for row in rows:
        seq += 1
        digest = row_hash(service, row, prev_hash)
        yield {"_id": row["id"], "_seq": seq, "_hash": digest, "_prev": prev_hash}
        prev_hash = digest


def event_name(service: str, row) -> dict:
    """How a verification names an event."""
    return {"id": f"{service}:{row['id']}", "seq": row["id"], "chain_seq": row["chain_seq"],
            "stream": f"{row['stream_type']}:{row['stream_id']}", "version": row["version"],
            "type": row["type"], "created": time_text(row["created"]) + "Z"}


class ChainWalk:
    """Checks events in chain order, one at a time (`step`); `failure` holds the first one
    whose content, order or presence does not match, `count` how many matched."""

    def __init__(self, service: str, first_seq: int, prev_hash: str | None):
        self.service = service
        self.expected_seq = first_seq
        self.prev_hash = prev_hash  # None: the first event's predecessor is not known
        self.count = 0
        self.last = None
        self.failure: dict | None = None

    def fail(self, row, problem: str, detail: str):
        self.failure = {**event_name(self.service, row), "problem": problem, "detail": detail}

    def step(self, row) -> bool:
        """Check one event; False once something failed."""
        if row["chain_seq"] != self.expected_seq:
            missing = (f"position {self.expected_seq}" if row["chain_seq"] == self.expected_seq + 1
                       else f"positions {self.expected_seq} to {row['chain_seq'] - 1}")
            self.fail(row, "presence", f"the event(s) at chain {missing} before it are missing")
            return False
        if self.prev_hash is not None and row["prev_hash"] != self.prev_hash:
            self.fail(row, "order", "it does not follow the event before it in the log (its "
                                    "previous hash is another event's)")
            return False
        if row["hash"] != row_hash(self.service, row, row["prev_hash"]):
            self.fail(row, "content", "its content does not match its hash (stream, version, "
                                      "type, payload, actor, request id or time was changed)")
            return False
        self.prev_hash = row["hash"]
        self.expected_seq += 1
        self.count += 1
        self.last = row
        return True
