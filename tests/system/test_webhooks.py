"""Incoming webhooks through the system service's entrypoints."""
import base64
import hashlib
import hmac
import json

import pytest
from sqlalchemy import func, select

from services.system import models, webhooks
from services.system.service import Service
from services.system.settings import SystemSettings
from svckit.context import SYSTEM
from svckit.errors import ApiError, NotFound, PermissionDenied
from tests.helpers import ANON, worker_factory


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


def endpoint(db, **kw):
    with db.write() as s:
        return webhooks.create_endpoint(s, SYSTEM, "hook", **kw)


def post(db, hook, body: bytes, token="", **settings):
    return worker_factory(Service, db=db, caller=ANON,
                          settings=SystemSettings(**settings)).receive_webhook(
        endpoint=hook["endpoint_id"], body_b64=base64.b64encode(body).decode(),
        headers={"TOKEN": token, "Content-Type": "application/json", "Cookie": "x"},
        host="example.org")


def stored(db) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(models.webhook_messages)).scalar()


def test_token_verification(db):
    hook = endpoint(db)
    assert post(db, hook, b'{"a": 1}', hook["token"]) == 1
    for token in ("", "wrong"):
        with pytest.raises(PermissionDenied) as info:
            post(db, hook, b'{"a": 1}', token)
        assert info.value.detail == {"detail": "Incorrect token in header."}
    with db.read() as s:
        message = s.execute(select(models.webhook_messages)).mappings().one()
    assert message["body"] == {"a": 1} and "Cookie" not in message["header"]
    assert stored(db) == 1


def test_hmac_verification(db):
    hook = endpoint(db, secret="s3cret")
    body = json.dumps({"event": "x"}).encode()
    good = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert post(db, hook, body, good)
    with pytest.raises(PermissionDenied):
        post(db, hook, body, base64.b64encode(b"nope").decode())
    assert stored(db) == 1


def test_bad_input_stores_nothing(db):
    hook = endpoint(db)
    with pytest.raises(ApiError) as info:
        post(db, hook, b"{not json", hook["token"])
    assert info.value.status == 406
    with pytest.raises(ApiError) as info:
        post(db, hook, b'{"a": "0123456789"}', hook["token"], WEBHOOK_MAX_BYTES=10)
    assert (info.value.status, info.value.detail) == (
        413, {"detail": "Webhook body exceeds 10 bytes"})
    with pytest.raises(NotFound):
        post(db, {"endpoint_id": "unknown"}, b"{}", "")
    assert stored(db) == 0


def test_endpoint_without_verification(db):
    hook = endpoint(db, token=False)
    assert post(db, hook, b"{}")
