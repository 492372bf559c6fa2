"""What must hold after each fault (README "Faults it survives"), from what the load client
recorded (svckit.cluster.load) and what the API lists afterwards:

- no acknowledged write lost: every 2xx write is listed, and in the audit log
  (`GET /api/events/`) exactly once;
- no write applied twice: one object and one event per write, serial numbers unique and
  reserved once each, every import row created exactly once;
- no ambiguous failure: no write ends in an error or undecided, no 503 "not applied" that
  was in fact applied, every error answer says what it is.

`check()` returns the problems found (empty: all good) and figures for the report.
"""
import collections
import time
from collections.abc import Iterable

import requests

from svckit.cluster.load import SERIAL_PART, ImportRun, Recorder

CREATION_EVENTS = {"upload": "attachment.uploaded", "link": "attachment.linked",
                   "project_code": "project_code.created",
                   "custom_state": "custom_state.created", "token": "token.issued",
                   "serial": "serial_numbers.reserved"}
# what a clear 503 says (the gateway's, a service's, HAProxy's own)
CLEAR_503 = ("not applied", "outcome of the request is unknown", "unavailable",
             "No gateway is available")
AUDIT_WAIT = 120.0


def events(api: requests.Session, url: str, kind: str, since: str) -> list[dict]:
    """Every audited event of `kind` recorded after `since` (ISO time)."""
    return listed(api, url, "/api/events/", type=kind, after=since)


def listed(api: requests.Session, url: str, path: str, **params) -> list[dict]:
    """Every row of a list, 1,000 a page (an unpaged list stops at LIST_MAX_ROWS, which the
    project codes of five 20,000-row imports pass)."""
    found: list[dict] = []
    offset = 0
    while True:
        r = api.get(f"{url}{path}", timeout=120,
                    params={**params, "limit": 1000, "offset": offset})
        r.raise_for_status()
        page = r.json()
        found += page["results"]
        if not page["next"]:
            return found
        offset += len(page["results"])


def _count(values: Iterable) -> dict:
    return collections.Counter(values)


def expected_streams(recorder: Recorder, imported: dict[str, int]) -> dict[str, list[str]]:
    """Event type -> the stream ids the acknowledged writes (and import rows) created."""
    streams: dict[str, list[str]] = collections.defaultdict(list)
    for w in recorder.writes:
        if w.acknowledged and w.kind in ("upload", "link", "project_code", "custom_state"):
            streams[CREATION_EVENTS[w.kind]].append(str(w.answer["pk"]))
    streams["project_code.created"] += [str(pk) for pk in imported.values()]
    return streams


def wait_for_audit(api, url: str, since: str, streams: dict[str, list[str]],
                   serials: int, tokens: int) -> dict[str, list[dict]]:
    """The creation events since `since`, once the audit holds every expected one (or
    after AUDIT_WAIT seconds: what it holds then)."""
    deadline = time.monotonic() + AUDIT_WAIT
    while True:
        got = {kind: events(api, url, kind, since) for kind in set(CREATION_EVENTS.values())}
        complete = all(set(ids) <= {e["stream_id"] for e in got[kind]}
                       for kind, ids in streams.items())
        complete = complete and sum(len(e["payload"].get("serials", []))
                                    for e in got["serial_numbers.reserved"]) >= serials
        complete = complete and len(got["token.issued"]) >= tokens
        if complete or time.monotonic() > deadline:
            return got
        time.sleep(1)


def check(api: requests.Session, url: str, recorder: Recorder, since: str,
          imports: list[ImportRun], prefix: str, model_id: int) -> tuple[list[str], dict]:
    problems: list[str] = []
    writes = recorder.writes
    acked = [w for w in writes if w.acknowledged]
    figures = {"writes": len(writes), "acknowledged": len(acked),
               "by_kind": dict(_count(w.kind for w in acked))}

    # no ambiguous failure: every write ends acknowledged
    for w in writes:
        if w.status == 0:
            last = w.attempts[-1] if w.attempts else None
            problems.append(f"{w.kind} {w.name} undecided after {len(w.attempts)} attempts"
                            f" (last: {last.status if last else '-'} "
                            f"{last.detail if last else ''})")
        elif not w.acknowledged:
            problems.append(f"{w.kind} {w.name} ended {w.status}: {w.attempts[-1].detail}"
                            f" (answers: {[a.status for a in w.attempts]})")
        if w.lied_not_applied():
            problems.append(f"{w.kind} {w.name} was answered 503 \"not applied\" "
                            f"{len(w.attempts) - 1} time(s) but had been applied (its repeat"
                            " was a replay)")
    for a in recorder.attempts:
        if a.status == 503 and not any(text in a.detail for text in CLEAR_503):
            problems.append(f"a 503 without a clear detail ({a.kind}): {a.detail!r}")
        if a.status == 0 and "Timeout" in a.detail:
            problems.append(f"{a.kind} hung: no answer within the client timeout "
                            f"({a.seconds:.0f} s, {a.phase})")
    for run in imports:
        if run.error:
            problems.append(f"import {run.prefix}: {run.error}")
        for step in run.answers_lost:
            problems.append(f"import {run.prefix}: {step} was answered 409 \"applied, but its"
                            " answer was not kept\", not its original answer")

    # every acknowledged object is there, once
    codes = listed(api, url, "/api/project-code/", search=prefix)
    attachments = listed(api, url, "/api/attachment/", model_type="part", model_id=model_id)
    states = listed(api, url, "/api/generic/status/custom/")
    tokens = listed(api, url, "/api/user/tokens/")
    by_name = {
        "project_code": _count(c["code"] for c in codes if c["code"].startswith(prefix)),
        "upload": _count(a["comment"] for a in attachments if a["attachment"]
                         and a["comment"].startswith(prefix)),
        "link": _count(a["comment"] for a in attachments if a["link"]
                       and a["comment"].startswith(prefix)),
        "custom_state": _count(s["name"] for s in states if s["name"].startswith(prefix)),
        "token": _count(t["name"] for t in tokens if t["name"].startswith(prefix)),
    }
    for w in acked:
        if w.kind in by_name and by_name[w.kind].get(w.name, 0) != 1:
            problems.append(f"{w.kind} {w.name}, acknowledged, is listed "
                            f"{by_name[w.kind].get(w.name, 0)} times")
    # (a write answered 409 "applied, but ..." made its object: reported above already)
    names = {(w.kind, w.name) for w in writes if w.acknowledged or w.status == 409}
    for kind, counts in by_name.items():
        extra = [n for n in counts if (kind, n) not in names
                 and not any(n.startswith(f"{run.prefix}-") for run in imports)]
        if extra:
            problems.append(f"{len(extra)} {kind} listed that no acknowledged write made: "
                            f"{extra[:5]}")

    # import rows: each created exactly once
    code_pk = {c["code"]: c["pk"] for c in codes}
    imported: dict[str, int] = {}
    for run in imports:
        if run.error:
            continue
        made = _count(c["code"] for c in codes if c["code"].startswith(f"{run.prefix}-"))
        missing = [c for c in run.codes() if c not in made]
        doubled = [c for c, n in made.items() if n > 1]
        if missing or doubled or len(made) != run.rows:
            problems.append(f"import {run.prefix}: {len(made)} distinct codes for {run.rows}"
                            f" rows, {len(missing)} missing, {len(doubled)} doubled")
        imported.update({c: code_pk[c] for c in run.codes() if c in code_pk})
        figures[f"import {run.prefix} s"] = round(run.seconds or 0, 1)

    # serial numbers: unique among the answers
    serials = [s for w in acked if w.kind == "serial"
               for s in w.answer["serial_number"].split(",")]
    doubled_serials = [s for s, n in _count(serials).items() if n > 1]
    if doubled_serials:
        problems.append(f"serial numbers answered twice: {doubled_serials[:10]}")

    # the audit log: one creation event per acknowledged write, none more
    streams = expected_streams(recorder, imported)
    token_names = {w.name for w in acked if w.kind == "token"}
    got = wait_for_audit(api, url, since, streams, len(serials), len(token_names))
    for kind, ids in streams.items():
        seen = _count(e["stream_id"] for e in got[kind])
        wrong = [i for i in ids if seen.get(i, 0) != 1]
        if wrong:
            problems.append(f"{len(wrong)} of {len(ids)} {kind} streams not audited exactly "
                            f"once, e.g. {[(i, seen.get(i, 0)) for i in wrong[:5]]}")
        extra = set(seen) - set(ids)
        if extra and kind != "project_code.created":  # others' project codes: none here
            problems.append(f"{len(extra)} {kind} events for objects no write made: "
                            f"{sorted(extra)[:5]}")
    reserved = [s for e in got["serial_numbers.reserved"]
                if e["stream_id"] == str(SERIAL_PART) for s in e["payload"]["serials"]]
    if sorted(reserved) != sorted(serials):
        problems.append(f"serial numbers: {len(serials)} answered, {len(reserved)} reserved "
                        f"in the audit log; answered not reserved "
                        f"{sorted(set(serials) - set(reserved))[:5]}, reserved not answered "
                        f"{sorted(set(reserved) - set(serials))[:5]}, reserved twice "
                        f"{[s for s, n in _count(reserved).items() if n > 1][:5]}")
    issued = _count(e["payload"].get("name") for e in got["token.issued"])
    wrong_tokens = [n for n in token_names if issued.get(n, 0) != 1]
    if wrong_tokens:
        problems.append(f"{len(wrong_tokens)} tokens not audited exactly once: "
                        f"{[(n, issued.get(n, 0)) for n in wrong_tokens[:5]]}")
    return problems, figures


def failed_requests(recorder: Recorder, phases: tuple[str, ...] = ("before", "fault", "after")
                    ) -> dict[tuple[str, int, str], int]:
    """Failed answers (not 2xx, or none) by (kind, status, detail), in `phases`."""
    return dict(_count((a.kind, a.status, a.detail[:120]) for a in recorder.attempts
                       if not a.ok and a.phase in phases))


def recovery_seconds(recorder: Recorder, back: float, kinds: Iterable[str]) -> dict[str, float]:
    """For each kind, seconds from `back` (time.monotonic() of the component answering
    again) to the end of its first successful answer to a request sent after `back`."""
    result = {}
    for kind in kinds:
        ends = [a.sent + a.seconds for a in recorder.attempts
                if a.kind == kind and a.ok and a.sent >= back]
        result[kind] = round(min(ends) - back, 2) if ends else float("inf")
    return result
