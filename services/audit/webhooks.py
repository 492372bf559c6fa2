"""Outbound webhook subscriptions (`/api/events/subscriptions/`): a target URL, event type
patterns (svckit.eventtypes), a secret and whether it is active. Who may manage them (staff)
is checked by the service's entrypoints.

The secret is write-only: the gateway makes one when none is given and shows it in the
answer to the create, once; this module stores it in `webhook_secret` and never returns it
(not even to the gateway, so the answer stored with the call's idempotency key holds none).
Target URLs are checked against WEBHOOK_ALLOWED_HOSTS and their host's addresses against
WEBHOOK_ALLOW_PRIVATE when written (svckit.outbound), and again before every delivery."""
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from svckit import eventtypes, outbound
from svckit.context import Caller
from svckit.errors import ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import get_by_id, run_list

from .events import (
    WEBHOOK_SUBSCRIPTION_CREATED,
    WEBHOOK_SUBSCRIPTION_DELETED,
    WEBHOOK_SUBSCRIPTION_UPDATED,
)
from .models import store, webhook_deliveries, webhook_secrets, webhook_subscriptions

STREAM = "webhook_subscription"
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 200

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "target_url": Field("string", "Target URL", "http(s) URL the events are POSTed to",
                        required=True, max_length=outbound.MAX_URL_CHARS),
    "event_types": Field("list", "Event types",
                         "Event type patterns, '*' for any characters (attachment.*)",
                         required=True),
    "secret": Field("string", "Secret", "Key of the HMAC-SHA256 signature (write-only)",
                    max_length=MAX_SECRET_CHARS),
    "active": Field("boolean", "Active", default=True),
    "description": Field("string", "Description", max_length=250, default="",
                         extra={"allow_blank": True}),
}
COLUMNS = {"pk": webhook_subscriptions.c.id, "target_url": webhook_subscriptions.c.target_url,
           "active": webhook_subscriptions.c.active, "created": webhook_subscriptions.c.created}


@dataclass(frozen=True)
class TargetRules:
    """Which target URLs are allowed (WEBHOOK_ALLOWED_HOSTS, WEBHOOK_ALLOW_PRIVATE)."""

    allowed_hosts: list[str]
    allow_private: bool


def render(row) -> dict:
    return {"pk": row["id"], "target_url": row["target_url"],
            "event_types": list(row["event_types"]), "active": bool(row["active"]),
            "description": row["description"], "created": row["created"].isoformat() + "Z",
            "updated": row["updated"].isoformat() + "Z"}


def get(session, pk) -> dict:
    return get_by_id(session, webhook_subscriptions, pk)


def list_subscriptions(session, params: dict) -> dict:
    stmt = select(webhook_subscriptions)
    if params.get("active") not in (None, ""):
        active = str(params["active"]).lower()
        if active not in ("true", "false", "1", "0"):
            raise ValidationFailed({"active": ["Must be a valid boolean."]})
        stmt = stmt.where(webhook_subscriptions.c.active == (active in ("true", "1")))
    return run_list(session, stmt, params, search=(webhook_subscriptions.c.target_url,
                                                   webhook_subscriptions.c.description),
                    ordering=COLUMNS, default_order=[webhook_subscriptions.c.id], render=render)


def check(data, rules: TargetRules, partial=False) -> dict:
    """The written fields, checked: the URL's scheme, host and addresses, the patterns,
    the secret's length. ValidationFailed names each field at fault. It looks the host up
    (DNS): call it before the transaction opens."""
    cleaned = validate(FIELDS, data, partial=partial)
    errors = {}
    if "target_url" in cleaned:
        try:
            target = outbound.parse_target(cleaned["target_url"], rules.allowed_hosts)
            outbound.resolve(target, rules.allow_private)
        except outbound.RefusedTarget as exc:
            errors["target_url"] = [str(exc)]
    if "event_types" in cleaned:
        problems = eventtypes.pattern_problems(cleaned["event_types"])
        if problems:
            errors["event_types"] = problems
        else:
            cleaned["event_types"] = list(dict.fromkeys(cleaned["event_types"]))
    if "secret" in cleaned and len(cleaned["secret"]) < MIN_SECRET_CHARS:
        errors["secret"] = [f"Ensure this field has at least {MIN_SECRET_CHARS} characters."]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def create(session, caller: Caller, cleaned: dict) -> dict:
    """A new subscription from `check`ed data; the gateway always passes its secret (made
    there if none was given), which is stored and not returned."""
    cleaned = dict(cleaned)
    secret = cleaned.pop("secret", None)
    if not secret:
        raise ValidationFailed({"secret": ["This field is required."]})
    pk = store.next_stream_id(session, STREAM)
    store.record(session, STREAM, pk, WEBHOOK_SUBSCRIPTION_CREATED, cleaned, caller, version=1)
    session.execute(insert(webhook_secrets).values(subscription_id=pk, secret=secret))
    return render(get(session, pk))


def update_subscription(session, caller: Caller, pk: int, cleaned: dict) -> dict:
    """Apply `check`ed fields (a PUT's or a PATCH's); a new secret is stored, not returned."""
    current, version = store.load_for_update(session, STREAM, pk, get)
    cleaned = dict(cleaned)
    secret = cleaned.pop("secret", None)
    changed = {k: v for k, v in cleaned.items() if current.get(k) != v}
    if secret is not None:
        old = session.execute(select(webhook_secrets.c.secret).where(
            webhook_secrets.c.subscription_id == pk)).scalar()
        if secret != old:
            session.execute(update(webhook_secrets).where(
                webhook_secrets.c.subscription_id == pk).values(secret=secret))
            changed["secret_replaced"] = True
    if changed:
        store.record(session, STREAM, pk, WEBHOOK_SUBSCRIPTION_UPDATED, changed, caller,
                     version + 1)
    return render(get(session, pk))


def delete_subscription(session, caller: Caller, pk: int):
    """Delete a subscription with its secret and its deliveries."""
    row, version = store.load_for_update(session, STREAM, pk, get)
    store.record(session, STREAM, pk, WEBHOOK_SUBSCRIPTION_DELETED,
                 {"target_url": row["target_url"]}, caller, version + 1)
    session.execute(delete(webhook_secrets).where(webhook_secrets.c.subscription_id == pk))
    session.execute(delete(webhook_deliveries).where(
        webhook_deliveries.c.subscription_id == pk))


def active_subscriptions(session) -> list[dict]:
    """Every active subscription (pk, patterns), for matching received events."""
    return [dict(r) for r in session.execute(select(
        webhook_subscriptions.c.id, webhook_subscriptions.c.event_types).where(
        webhook_subscriptions.c.active.is_(True))).mappings()]
