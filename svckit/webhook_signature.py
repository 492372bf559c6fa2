"""Signatures of outbound webhook deliveries, and their check on the receiving side.

A delivery carries `Webhook-Id` (the delivery's id: the same on every retry, for the
receiver to deduplicate), `Webhook-Timestamp` (Unix seconds when this attempt was sent)
and `Webhook-Signature: v1=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the
subscription's secret. A receiver recomputes it over the raw body and refuses a timestamp
older than its tolerance (a replay). README, "Events, and subscribing to them", shows the
check in a few lines of plain Python; `verify` here is the same."""
import hashlib
import hmac
import time

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
VERSION = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, delivery_id: str, body: bytes, now: float | None = None) -> dict:
    """The headers of one attempt of a delivery."""
    timestamp = int(time.time() if now is None else now)
    return {ID_HEADER: delivery_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"{VERSION}={signature(secret, timestamp, body)}"}


def verify(secret: str, headers, body: bytes, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """Whether a received delivery is signed with `secret` and sent within `tolerance`
    seconds of `now` (headers: any mapping with case-sensitive keys as sent, or an
    email.message / http.client style header object)."""
    try:
        timestamp = int(headers[TIMESTAMP_HEADER])
        given = [part.partition("=")[2] for part in headers[SIGNATURE_HEADER].split(",")
                 if part.strip().startswith(f"{VERSION}=")]
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, g.strip()) for g in given)
