"""The official `inventree` Python client against the live stack, unchanged."""
import pytest
import requests
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
    with pytest.raises(ConnectionError, match="Authentication at InvenTree server failed"):
        InvenTreeAPI(stack.url, username=ADMIN[0], password="wrong", timeout=10)


def test_attachments_with_the_official_client(stack, tmp_path):
    """CLIENT.md §4: upload (directly and from a model object), links, list with filters,
    count, download, save (the whole cached object back), delete and bulkDelete."""
    from inventree.base import Attachment
    from inventree.part import Part
    api = InvenTreeAPI(stack.url, username=ADMIN[0], password=ADMIN[1], timeout=10)
    source = tmp_path / "docker-compose.yml"
    source.write_text("services:\n  inventree:\n    image: inventree/inventree:stable\n")

    made = Attachment.upload(api, str(source), comment="Uploading a file",
                             model_type="part", model_id=101)
    attachment = Attachment(api, pk=made["pk"])
    assert attachment.is_valid() and attachment["filename"] == "docker-compose.yml"

    part = Part(api, data={"pk": 101})  # parts are not served here: build it from data
    from_part = part.uploadAttachment(str(source), comment="From the part")
    assert from_part["filename"].startswith("docker-compose_")  # a clash never overwrites
    link = part.addLinkAttachment("https://inventree.org/", comment="Docs")
    linked = Attachment(api, pk=link["pk"])
    assert (linked["link"], linked["comment"]) == ("https://inventree.org/", "Docs")

    assert {a.pk for a in part.getAttachments()} == {made["pk"], from_part["pk"], link["pk"]}
    assert [a.pk for a in Attachment.list(api, model_type="part", model_id=101,
                                          is_link=True)] == [link["pk"]]
    assert Attachment.count(api, model_type="part", model_id=101) == 3

    destination = tmp_path / "downloaded.yml"
    assert attachment.download(str(destination))
    assert destination.read_bytes() == source.read_bytes()
    with pytest.raises(FileExistsError):
        attachment.download(str(destination))

    attachment["comment"] = "Edited by save()"
    attachment.save()  # PATCH with every key, read-only ones included
    assert Attachment(api, pk=made["pk"])["comment"] == "Edited by save()"
    linked.save()
    assert linked["link"] == "https://inventree.org/"

    attachment.delete()
    Attachment.bulkDelete(api, items=[from_part["pk"]])
    Attachment.bulkDelete(api, filters={"model_id": 101})
    assert Attachment.count(api, model_type="part", model_id=101) == 0


def test_unauthenticated_download_fails(stack, tmp_path):
    api = InvenTreeAPI(stack.url, username=ADMIN[0], password=ADMIN[1], timeout=10)
    api.token = None  # a download without credentials: the client must see an HTTP error
    api.auth = None
    with pytest.raises(requests.HTTPError) as info:
        api.downloadFile("/media/attachments/part/1/anything.pdf", str(tmp_path / "x"))
    assert "401" in str(info.value)
