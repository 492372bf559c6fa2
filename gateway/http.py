"""Request and response helpers: exact JSON content type, DRF-shaped bodies, paging envelope,
request bodies (JSON, form, multipart) and InvenTree's input cleaning (CleanMixin, §1.5)."""
import json
import re
import threading
from urllib.parse import urlencode

import falcon

from svckit import jsontext
from svckit.errors import ApiError, ValidationFailed

JSON = "application/json"  # exactly: the official client compares with ==
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_NEWLINES = re.compile(r"[\r\n]")


SERVER = threading.local()  # `.request`: gunicorn's request being served by this thread
DRAIN_LIMIT = 64 * 1024  # gunicorn reads at most this much of an unread body before a next request


LINGER_DRAIN_BYTES = 32 * 1024 * 1024  # read and dropped after an answer that left a body unread
LINGER_SECONDS = 2.0


def install_lingering_close():
    """gunicorn closes a connection whose body went unread by sending FIN and then reading
    what the client still sends, so that the kernel does not answer it with a reset that
    destroys the answer before the client (or a load balancer in front) has read it; but it
    reads 64 KB at most. A refused 10 MB body then lost its 413 behind HAProxy. Read up to
    LINGER_DRAIN_BYTES (within LINGER_SECONDS, as before) instead: loopback and LAN clients
    finish sending a body of the gateway's size limit well within that."""
    from gunicorn import util
    graceful = util.close_graceful
    if getattr(graceful, "lingers", False):
        return

    def close_graceful(sock, timeout=LINGER_SECONDS, max_drain=LINGER_DRAIN_BYTES):
        return graceful(sock, timeout=timeout, max_drain=max_drain)

    close_graceful.lingers = True  # type: ignore[attr-defined]
    util.close_graceful = close_graceful


def body_may_be_unread(req: falcon.Request) -> bool:
    """A body gunicorn could not drain before the connection's next request."""
    chunked = "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
    return chunked or (req.content_length or 0) > DRAIN_LIMIT


def close_connection(resp: falcon.Response):
    """Answer with `Connection: close`: the rest of the request body will not be read.

    gunicorn drops an application's `Connection` header (hop-by-hop), announces keep-alive,
    and then closes anyway when over DRAIN_LIMIT of the body went unread, so a client that
    sends its next request on that connection loses it. Its `pre_request` hook (gunicorn_conf.py)
    hands this thread gunicorn's request, which is marked to close; gunicorn says so."""
    resp.set_header("Connection", "close")
    request = getattr(SERVER, "request", None)
    if request is not None:
        request.must_close = True


def dumps(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def send(resp: falcon.Response, data, status=200):
    resp.status = status
    resp.content_type = JSON
    resp.data = dumps(data)


def absolute_url(req: falcon.Request, path: str | None = None, params: dict | None = None) -> str:
    url = req.prefix + (req.path if path is None else path)
    if params:
        url += "?" + urlencode(params)
    return url


def send_list(req, resp, answer: dict):
    """A bare array, or DRF's limit/offset envelope with absolute next/previous links."""
    results = answer["results"]
    if "count" not in answer:
        return send(resp, results)
    count = answer["count"]
    if "limit" in answer:
        limit, offset = answer["limit"], answer["offset"]
    else:  # a service from before paged answers said their limit (a rolling update)
        limit, offset = int(req.params["limit"]), int(req.params.get("offset") or 0)
    params = {**req.params, "limit": limit}
    nxt = prev = None
    if offset + limit < count:
        nxt = absolute_url(req, params={**params, "offset": offset + limit})
    if offset > 0:
        if offset - limit <= 0:
            prev = absolute_url(req, params={k: v for k, v in params.items() if k != "offset"})
        else:
            prev = absolute_url(req, params={**params, "offset": offset - limit})
    send(resp, {"count": count, "next": nxt, "previous": prev, "results": results})


def query(req) -> dict:
    """The query string as single values (last one wins), without `format`; null characters
    removed (as DRF's search does: PostgreSQL cannot compare text holding them)."""
    return {k: jsontext.without_nul(v[-1] if isinstance(v, list) else v)
            for k, v in req.params.items() if k != "format"}


def body(req, max_bytes: int) -> dict:
    """The request body as a dict; form and multipart bodies flattened (last value wins).
    Above `max_bytes` (GATEWAY_MAX_BODY_BYTES) it is a 413. Every endpoint takes an object:
    anything else is DRF's 400 "Invalid data. Expected a dictionary, but got <type>."."""
    if (req.content_length or 0) > max_bytes:
        raise ApiError({"detail": f"Request body exceeds {max_bytes} bytes"}, 413)
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _form(req, ctype)
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError({"detail": f"Request body exceeds {max_bytes} bytes"}, 413)
    if not raw.strip():
        return {}
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ValidationFailed({"non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    return data


def parse_json(raw: bytes):
    """JSON as DRF's parser reads it (svckit.jsontext: no NaN, at most 64 levels deep);
    anything else is DRF's 400 `{"detail": "JSON parse error - ..."}`."""
    try:
        return jsontext.loads(raw)
    except ValueError as exc:
        raise ValidationFailed({"detail": f"JSON parse error - {exc}"})


def require_length(req):
    """Multipart bodies are read against their Content-Length: a chunked one (no length)
    is 411 Length Required."""
    if req.content_length is None:
        raise ApiError({"detail": "A multipart body needs a Content-Length header "
                                  "(chunked transfer encoding is not supported)"}, 411)


def _form(req, ctype) -> dict:
    data = {}
    if ctype == "multipart/form-data":
        require_length(req)
    try:
        if ctype == "multipart/form-data":
            for part in req.get_media():
                if not part.filename:
                    data[part.name] = part.get_text()
        else:
            for key, value in req.get_media().items():
                data[key] = value[-1] if isinstance(value, list) else value
    except falcon.MediaMalformedError as exc:
        raise ValidationFailed({"detail": f"Multipart form parse error - {exc.description}"})
    return jsontext.without_nul(data)


def clean(data, keep_newlines=()):
    """CleanMixin: refuse HTML tags, strip control characters and newlines, recursively in
    dicts (not inside lists)."""
    if not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        if isinstance(value, str):
            if _TAG.search(value):
                raise ValidationFailed({key: ["Remove HTML tags from this value"]})
            value = _CONTROL.sub("", value)
            if key not in keep_newlines:
                value = _NEWLINES.sub("", value)
        elif isinstance(value, dict):
            value = clean(value, keep_newlines)
        out[key] = value
    return out


def int_id(value, name="id") -> int:
    """A path id; non-integers never reach a service (404 as Django's URL patterns do)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise falcon.HTTPNotFound()
    if number < 0 or number > 2**63 - 1:
        raise falcon.HTTPNotFound()
    return number
