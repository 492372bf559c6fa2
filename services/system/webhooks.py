"""Incoming webhooks (SEMANTICS §14): `POST /api/webhook/<endpoint id>/`, verified by a
static token or an HMAC of the body in the `Token` header, then stored as a message.
Endpoints are made by operators (`python -m services.system.cli create-webhook`)."""
import base64
import hashlib
import hmac
import secrets
import uuid

from sqlalchemy import select

from svckit import jsontext
from svckit.errors import ApiError, NotFound, PermissionDenied

from . import events
from .models import store, webhook_endpoints

DROPPED_HEADERS = {"authorization", "cookie", "token"}


def create_endpoint(session, caller, name: str, secret: str = "", token: bool = True) -> dict:
    pk = store.next_stream_id(session, "webhook_endpoint")
    row = {"endpoint_id": uuid.uuid4().hex, "name": name, "active": True,
           "token": secrets.token_hex(16) if token and not secret else "", "secret": secret}
    store.record(session, "webhook_endpoint", pk, events.WEBHOOK_ENDPOINT_CREATED, row, caller)
    return {"pk": pk, **row}


def _verify(endpoint: dict, raw: bytes, header_token: str):
    if endpoint["secret"]:
        expected = base64.b64encode(hmac.new(endpoint["secret"].encode(), raw,
                                             hashlib.sha256).digest()).decode()
    elif endpoint["token"]:
        expected = endpoint["token"]
    else:
        return
    if not hmac.compare_digest(expected, header_token or ""):
        raise PermissionDenied("Incorrect token in header.")


def receive(session, caller, endpoint_id: str, body_b64: str, headers: dict, host: str,
            max_bytes: int) -> int:
    """Verify and store one message (the body as the gateway sent it, base64; header names
    in any case; at most `max_bytes`, WEBHOOK_MAX_BYTES); nothing is stored when anything
    is wrong."""
    raw = base64.b64decode(body_b64)
    headers = {k.lower(): v for k, v in headers.items()}
    endpoint = session.execute(select(webhook_endpoints).where(
        webhook_endpoints.c.endpoint_id == endpoint_id,
        webhook_endpoints.c.active.is_(True))).mappings().first()
    if endpoint is None:
        raise NotFound()
    if len(raw) > max_bytes:
        raise ApiError({"detail": f"Webhook body exceeds {max_bytes} bytes"}, 413)
    try:
        body = jsontext.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError({"detail": str(exc)}, 406)
    _verify(endpoint, raw, headers.get("token", ""))
    pk = store.next_stream_id(session, "webhook_message")
    store.record(session, "webhook_message", pk, events.WEBHOOK_MESSAGE_CREATED, {
        "endpoint": endpoint["id"], "host": host[:255],
        "header": {k: v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS},
        "body": body, "worked_on": False}, caller)
    return pk
