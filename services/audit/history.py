"""`GET /api/events/history/?stream=<type>:<id>&at=<time>`: the state of one object as of a
time, rebuilt from the events the audit trail recorded for its stream.

The audit service knows no domain (it may not import the services), so the rebuild follows
one generic rule over the published payloads, in stream order (version, then arrival):

- an event whose type ends in `.created` starts the state afresh from its payload (an
  object created again after its deletion starts over);
- one ending in `.deleted` ends the object: no state, `deleted` true (later events of the
  stream other than a `.created` change nothing);
- any other event (`.updated`, `.renamed`, `.read`, ...) merges its payload's fields into
  the state, the last value of a field winning (services record only the changed fields).

Secret fields never reach the audit trail, so they are in no state. Events recorded after
`at` (their own time, not their arrival) are left out; `at` is optional (now)."""
from sqlalchemy import select

from svckit.chainlog import time_param
from svckit.errors import NotFound, ValidationFailed
from svckit.events import utcnow

from .models import audit_events

PARAMS = ("stream", "at")
FOLD_BATCH = 1000  # rows fetched at a time: a long stream is folded without holding it


def stream_param(params: dict) -> tuple[str, str]:
    """(stream type, stream id) of `stream=<type>:<id>`, or a 400 naming `stream`."""
    raw = str(params.get("stream") or "")
    if not raw:
        raise ValidationFailed({"stream": ["This field is required."]})
    stream_type, _, stream_id = raw.partition(":")
    if not stream_type or not stream_id:
        raise ValidationFailed({"stream": ["Expected <type>:<id>, e.g. custom_state:3."]})
    return stream_type, stream_id


def state_at(session, params: dict) -> dict:
    """The object's state as of `at` (see the module's rule); 404 for a stream with no
    recorded event at all; 400 for unknown parameters and a malformed `stream` or `at`."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ValidationFailed({name: [f"Unknown parameter; one of: {', '.join(PARAMS)}."]
                                for name in unknown})
    stream_type, stream_id = stream_param(params)
    at = time_param(params, "at") or utcnow()
    c = audit_events.c
    in_stream = (c.stream_type == stream_type, c.stream_id == stream_id)
    if session.execute(select(c.id).where(*in_stream).limit(1)).first() is None:
        raise NotFound({"detail": f"No events recorded for {stream_type}:{stream_id}."})
    stmt = (select(c.id, c.event_id, c.version, c.type, c.payload, c.actor, c.created)
            .where(*in_stream, c.created <= at).order_by(c.version, c.id)
            .execution_options(yield_per=FOLD_BATCH))
    fold = Fold()
    for row in session.execute(stmt).mappings():
        fold.apply(row)
    return {"stream": f"{stream_type}:{stream_id}", "stream_type": stream_type,
            "stream_id": stream_id, "at": _iso(at), **fold.answer()}


class Fold:
    """The state of one stream, event by event."""

    def __init__(self):
        self.state: dict | None = None
        self.deleted = False
        self.count = 0
        self.version = 0
        self.first = None
        self.last = None

    def apply(self, row):
        kind = row["type"].rsplit(".", 1)[-1]
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        if kind == "created":
            self.state, self.deleted = dict(payload), False
        elif kind == "deleted":
            self.state, self.deleted = None, True
        elif not self.deleted:
            self.state = {**(self.state or {}), **payload}
        self.count += 1
        self.version = row["version"]
        self.first = self.first or row
        self.last = row

    def answer(self) -> dict:
        last = self.last
        return {"exists": self.state is not None, "deleted": self.deleted,
                "state": self.state, "version": self.version, "events": self.count,
                "created": _iso(self.first["created"]) if self.first else None,
                "updated": _iso(last["created"]) if last else None,
                "last_event": None if last is None else {
                    "pk": last["id"], "id": last["event_id"], "type": last["type"],
                    "actor": last["actor"], "created": _iso(last["created"])}}


def _iso(moment) -> str:
    return moment.isoformat() + "Z"
