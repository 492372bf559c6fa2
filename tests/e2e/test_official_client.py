"""The official `inventree` Python client against the live stack, unchanged."""
import pytest
from inventree.api import InvenTreeAPI

from tests.e2e.conftest import ADMIN


def test_connect_with_username_and_password(stack):
    api = InvenTreeAPI(stack.url, username=ADMIN[0], password=ADMIN[1], timeout=10)
    assert api.api_version == 264
    assert api.server_details["server"] == "InvenTree" and "instance" in api.server_details
    assert api.token and api.token.startswith("inv-")  # obtained from /api/user/token/
    statuses = api.get("generic/status/")
    assert statuses["StockStatus"]["values"]["OK"]["key"] == 10


def test_connect_with_token(stack):
    first = InvenTreeAPI(stack.url, username=ADMIN[0], password=ADMIN[1], timeout=10)
    api = InvenTreeAPI(stack.url, token=first.token, timeout=10)
    assert api.api_version == 264
    me = api.get("user/me/")
    assert me["username"] == "admin"
    created = api.post("generic/status/custom/", {
        "key": 71, "name": "client made", "label": "Client made", "logical_key": 10,
        "model": api.get("contenttype/model/stockitem/")["pk"], "reference_status": "StockStatus"})
    assert created["pk"]
    patched = api.patch(f"generic/status/custom/{created['pk']}/", {"label": "Patched"})
    assert patched["label"] == "Patched"
    fields = api.request("generic/status/custom/", method="OPTIONS").json()
    assert "key" in fields["actions"]["POST"]


def test_wrong_password_fails_to_connect(stack):
    with pytest.raises(Exception):
        InvenTreeAPI(stack.url, username=ADMIN[0], password="wrong", timeout=10)
