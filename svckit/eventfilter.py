"""Filters over recorded events (the published envelope: service, type, stream type and id,
actor, request id, time), read once from a query string and applied either as SQL (the audit
service's lists, history, export) or to events in memory (the gateway's live feed), with the
same meaning both ways.

Every filter takes a comma-separated list of accepted values; `type` values may hold `*`,
matching any run of characters (`attachment.*`, `*.deleted`, `attachment.*,user.created`).
`stream=<type>[:<id>]`; `after`/`before` are ISO times (naive: UTC), the events of
`[after, before)`; `search` is DRF's (every term in type, stream type or actor). A parameter
that is none of these, and not one of the endpoint's own (`extra`), is a 400 naming it.
"""
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, and_, cast, func, or_

from svckit.chainlog import time_param
from svckit.errors import ValidationFailed
from svckit.listing import bool_param, search_terms

LIST_FILTERS = ("service", "type", "stream_type", "stream_id", "actor", "request_id",
                "event_id")  # event_id: "<service>:<seq>", a rendered event's `id`
FILTERS = LIST_FILTERS + ("stream", "after", "before", "search")
MAX_VALUES = 100  # values in one filter's list
WILDCARD = "*"


@dataclass(frozen=True)
class EventFilter:
    """Accepted values per envelope field (`values`), `type` patterns with wildcards, the
    time range and search terms. An empty filter accepts every event."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    type_patterns: tuple[str, ...] = ()
    after: datetime | None = None
    before: datetime | None = None
    search: tuple[str, ...] = ()

    def clauses(self, columns, with_search: bool = True) -> list:
        """SQL conditions on a table holding the envelope's fields as columns."""
        out = []
        for name, accepted in self.values.items():
            if name == "type" and self.type_patterns:
                continue
            out.append(columns[name].in_(accepted))
        if self.type_patterns:
            exact = self.values.get("type", ())
            alternatives = [_pattern_clause(columns.type, p) for p in self.type_patterns]
            if exact:
                alternatives.append(columns.type.in_(exact))
            out.append(or_(*alternatives))
        if self.after is not None:
            out.append(columns.created >= self.after)
        if self.before is not None:
            out.append(columns.created < self.before)
        if with_search:
            for term in self.search:
                pattern = "%" + _escape_like(term.lower()) + "%"
                out.append(or_(*[func.lower(cast(columns[n], String)).like(pattern, escape="\\")
                                 for n in ("type", "stream_type", "actor")]))
        return [and_(*out)] if out else []

    def matches_type_pattern(self, kind: str) -> bool:
        """Whether an event type matches one of the `type` patterns."""
        return any(_regex(p).fullmatch(kind) for p in self.type_patterns)

    def matches(self, event: dict) -> bool:
        """Whether a rendered event (`created` an ISO time ending in Z) passes."""
        for name, accepted in self.values.items():
            if name == "type" and self.type_patterns:
                continue
            field = "id" if name == "event_id" else name
            if str(event.get(field, "")) not in accepted:
                return False
        if self.type_patterns:
            kind = event.get("type", "")
            if kind not in self.values.get("type", ()) and not self.matches_type_pattern(kind):
                return False
        if self.after is not None or self.before is not None:
            created = datetime.fromisoformat(str(event["created"]).removesuffix("Z"))
            if self.after is not None and created < self.after:
                return False
            if self.before is not None and created >= self.before:
                return False
        for term in self.search:
            haystack = " ".join(str(event.get(n, "")) for n in ("type", "stream_type", "actor"))
            if term.lower() not in haystack.lower():
                return False
        return True


def parse(params: dict, extra: tuple[str, ...] = ()) -> EventFilter:
    """The filter of a query string (a dict of single values); 400 naming each unknown
    parameter, malformed time, over-long list or a `before` not after `after`."""
    unknown = sorted(set(params) - set(FILTERS) - set(extra))
    if unknown:
        raise ValidationFailed({name: [
            f"Unknown filter; one of: {', '.join(FILTERS + extra)}."] for name in unknown})
    values: dict[str, tuple[str, ...]] = {}
    for name in LIST_FILTERS:
        accepted = _values(params, name)
        if accepted:
            values[name] = accepted
    stream = str(params.get("stream") or "")
    if stream:
        stream_type, _, stream_id = stream.partition(":")
        if not stream_type:
            raise ValidationFailed({"stream": ["Expected <type> or <type>:<id>."]})
        values["stream_type"] = _narrow(values.get("stream_type"), stream_type)
        if stream_id:
            values["stream_id"] = _narrow(values.get("stream_id"), stream_id)
    patterns = tuple(v for v in values.get("type", ()) if WILDCARD in v)
    if patterns:
        values["type"] = tuple(v for v in values["type"] if WILDCARD not in v)
        if not values["type"]:
            del values["type"]
    after, before = time_param(params, "after"), time_param(params, "before")
    if after is not None and before is not None and after >= before:
        raise ValidationFailed({"before": ["Must be later than after."]})
    terms = tuple(search_terms(params.get("search", "")))
    return EventFilter(values, patterns, after, before, terms)


def payload_wanted(params: dict) -> bool:
    """`payload`, a parameter of the list and the live feed beside the filters: true (the
    default) or false, as django-filter reads a boolean; anything else is a 400 naming it.
    An import's row events carry a batch of rows each (~200 KB), so events looked through
    are far smaller without them; one event's payload is then `?event_id=<id>`."""
    if params.get("payload") is None:
        return True
    wanted = bool_param(params, "payload")
    if wanted is None:
        raise ValidationFailed({"payload": ["Must be a valid boolean."]})
    return wanted


def without_payload(event: dict) -> dict:
    """A listed event without its payload."""
    return {k: v for k, v in event.items() if k != "payload"}


def _values(params: dict, name: str) -> tuple[str, ...]:
    raw = params.get(name)
    if raw is None or str(raw) == "":
        return ()
    accepted = tuple(dict.fromkeys(v.strip() for v in str(raw).split(",") if v.strip()))
    if len(accepted) > MAX_VALUES:
        raise ValidationFailed({name: [f"Ensure this list has no more than {MAX_VALUES} "
                                       "values."]})
    return accepted


def _narrow(accepted: tuple[str, ...] | None, value: str) -> tuple[str, ...]:
    """`stream=` together with `stream_type`/`stream_id`: both must hold (an impossible pair
    accepts nothing)."""
    if accepted is None or value in accepted:
        return (value,)
    return ()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pattern_clause(column, pattern: str):
    """`column` LIKE the pattern, and within the range of its literal prefix: SQLite's LIKE
    (case-insensitive) uses no index, the range does; PostgreSQL uses its pattern index for
    the LIKE. Both make the match case-sensitive, as `matches` is."""
    clause = column.like(_like_pattern(pattern), escape="\\")
    prefix = pattern.split(WILDCARD, 1)[0]
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return clause
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no surrogate: the next character is U+E000
        following = 0xE000
    upper = prefix[:-1] + chr(following)
    return and_(column >= prefix, column < upper, clause)


def _like_pattern(pattern: str) -> str:
    return _escape_like(pattern).replace(WILDCARD, "%")


_REGEXES: dict[str, re.Pattern] = {}


def _regex(pattern: str) -> re.Pattern:
    compiled = _REGEXES.get(pattern)
    if compiled is None:
        compiled = re.compile(".*".join(re.escape(p) for p in pattern.split(WILDCARD)),
                              re.DOTALL)
        if len(_REGEXES) < 1000:
            _REGEXES[pattern] = compiled
    return compiled
