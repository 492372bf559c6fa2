"""Attachments, notes images and `/media/` downloads over HTTP: gunicorn, RabbitMQ, the
attachments service and a real media directory."""
import io
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from PIL import Image

from tests.e2e.conftest import TOPOLOGY

MAX_BYTES = 2 * 1024 * 1024  # the stack's ATTACHMENT_MAX_BYTES


@pytest.fixture(scope="module")
def editor(make_user):
    return make_user("att-editor", "part:change", "part:delete")


@pytest.fixture(scope="module")
def plain(make_user):
    return make_user("att-plain")


@pytest.fixture(scope="module")
def viewer(make_user):
    return make_user("att-viewer", "part:view")


def media_files(stack) -> list[str]:
    root = Path(stack.data_dir) / "media"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def upload(session, name="doc.txt", body=b"hello attachment", **data):
    fields = {"model_type": "part", "model_id": "1", "comment": "", **data}
    return session.post(f"{session.base}/api/attachment/", data=fields,
                        files={"attachment": (name, body)}, timeout=10)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def test_upload_download_rename_delete(stack, editor):
    body = bytes(range(256)) * 40
    r = upload(editor, "c:\\Users\\me\\My Report.pdf", body, comment="Spec", tags='["x"]')
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["attachment"] == "/media/attachments/part/1/My_Report.pdf"
    assert (made["file_size"], made["tags"], made["user_detail"]["username"]) == \
        (len(body), ["x"], "att-editor")

    url = stack.url + made["attachment"]
    got = editor.get(url, timeout=10)
    assert got.status_code == 200 and got.content == body
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"] == 'attachment; filename="My_Report.pdf"'
    part = editor.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206 and part.content == body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert editor.get(url, headers={"Range": "bytes=-5"}, timeout=10).content == body[-5:]
    assert editor.get(url, headers={"Range": f"bytes={len(body)}-"}, timeout=10).status_code == 416

    anonymous = requests.get(url, timeout=10)
    assert (anonymous.status_code, anonymous.text) == (401, "Unauthorized")
    assert requests.get(url, auth=editor.credentials, timeout=10).status_code == 401  # no basic

    r = editor.patch(f"{stack.url}/api/attachment/{made['pk']}/", json={"filename": "final.pdf"},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["attachment"] == "/media/attachments/part/1/final.pdf"
    assert editor.get(url, timeout=10).status_code == 404
    assert editor.get(stack.url + r.json()["attachment"], timeout=10).content == body

    assert editor.delete(f"{stack.url}/api/attachment/{made['pk']}/", timeout=10).status_code == 204
    assert editor.get(stack.url + r.json()["attachment"], timeout=10).status_code == 404
    assert "attachments/part/1/final.pdf" not in media_files(stack)


def test_permissions(stack, admin, editor, plain, viewer):
    assert requests.post(f"{stack.url}/api/attachment/", json={}, timeout=10).status_code == 401
    r = upload(plain)
    assert (r.status_code, r.json()) == (403, {"detail": "User does not have permission to "
                                                         "create or edit attachments for this model"})
    r = upload(editor, model_type="salesorder")
    assert r.status_code == 403
    pk = upload(editor).json()["pk"]
    assert viewer.get(f"{stack.url}/api/attachment/{pk}/", timeout=10).status_code == 200
    r = upload(viewer)  # viewing is not changing
    assert (r.status_code, r.json()) == (403, {"detail": "User does not have permission to "
                                                         "create or edit attachments for this model"})
    r = viewer.patch(f"{stack.url}/api/attachment/{pk}/", json={"comment": "x"}, timeout=10)
    assert r.status_code == 403
    r = viewer.delete(f"{stack.url}/api/attachment/{pk}/", timeout=10)
    assert r.json() == {"detail": "User does not have permission to delete this attachment"}
    r = viewer.delete(f"{stack.url}/api/attachment/", json={"items": [pk]}, timeout=10)
    assert (r.status_code, r.json()) == (400, {"non_field_errors": [
        "User does not have permission to delete these attachments"]})
    r = plain.delete(f"{stack.url}/api/attachment/", json={"items": [pk]}, timeout=10)
    assert (r.status_code, r.json()) == (400, {"non_field_errors": "No items found to delete"})
    r = editor.patch(f"{stack.url}/api/attachment/{pk}/metadata/", json={"metadata": {"a": 1}},
                     timeout=10)
    assert r.status_code == 403  # Django's change_attachment: superusers only at v264
    r = admin.patch(f"{stack.url}/api/attachment/{pk}/metadata/", json={"metadata": {"a": 1}},
                    timeout=10)
    assert r.json() == {"metadata": {"a": 1}}
    r = editor.delete(f"{stack.url}/api/attachment/", json={"items": [pk]}, timeout=10)
    assert r.status_code == 204  # (gunicorn drops InvenTree's body on a 204)
    assert editor.get(f"{stack.url}/api/attachment/{pk}/", timeout=10).status_code == 404


@pytest.mark.parametrize("kwargs, status, expected", [
    ({"model_type": "widget"}, 400, {"model_type": ['"widget" is not a valid choice.']}),
    ({"model_id": ""}, 400, {"model_id": ["A valid integer is required."]}),
    ({"model_id": "-1"}, 400, {"model_id": ["Ensure this value is greater than or equal to 0."]}),
    ({"body": b""}, 400, {"attachment": ["The submitted file is empty."]}),
    ({"name": "bad\x07name.txt"}, 400, {"attachment": ["Filename contains control characters"]}),
    ({"link": "https://example.com"}, 400, None),
    ({"body": b"x" * (MAX_BYTES + 1)}, 413, None),
])
def test_bad_uploads_leave_no_row_and_no_file(stack, editor, kwargs, status, expected):
    before = editor.get(f"{stack.url}/api/attachment/", timeout=10).json()
    files = media_files(stack)
    name, body = kwargs.pop("name", "bad.txt"), kwargs.pop("body", b"content")
    r = upload(editor, name, body, **kwargs)
    assert r.status_code == status, r.text
    if expected:
        assert r.json() == expected
    if status == 413 and TOPOLOGY == "stack":
        # the rest of the upload is not read, and gunicorn says so (behind HAProxy, the
        # proxy decides what becomes of the client's connection)
        assert r.headers["Connection"] == "close"
    assert editor.get(f"{stack.url}/api/attachment/", timeout=10).json() == before
    assert media_files(stack) == files


def test_bad_json_and_links(stack, editor):
    url = f"{stack.url}/api/attachment/"
    r = editor.post(url, data=b'{"model_type": ', headers={"Content-Type": "application/json"},
                    timeout=10)
    assert r.status_code == 400 and r.json()["detail"].startswith("JSON parse error")
    r = editor.post(url, json={"model_type": "part", "model_id": 1}, timeout=10)
    assert r.json() == {"attachment": ["Missing file"], "link": ["Missing external link"]}
    r = editor.post(url, json={"model_type": "part", "model_id": 1, "link": "ftp//nope"},
                    timeout=10)
    assert r.json() == {"link": ["Enter a valid URL."]}
    r = editor.post(url, json={"model_type": "part", "model_id": 1, "link": "https://x.org/a",
                               "comment": "<b>x</b>"}, timeout=10)
    assert r.json() == {"comment": ["Remove HTML tags from this value"]}
    r = editor.post(url, json={"model_type": "part", "model_id": 1, "link": "https://x.org/a"},
                    timeout=10)
    assert r.status_code == 201 and r.json()["attachment"] is None and r.json()["filename"] is None
    r = editor.put(f"{url}{r.json()['pk']}/metadata/", json={"metadata": [1]}, timeout=10)
    assert r.status_code == 403  # metadata writes: superusers only, checked first


def test_truncated_multipart_leaves_nothing(stack, editor):
    files = media_files(stack)
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model_type\"\r\n\r\npart\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\n1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; "
            f"filename=\"cut.bin\"\r\n\r\n").encode() + b"a" * 300_000  # no closing boundary
    r = editor.post(f"{stack.url}/api/attachment/", data=body, timeout=10, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 400 and "Multipart form parse error" in r.json()["detail"]
    assert media_files(stack) == files

    # a client that disconnects mid-upload leaves nothing behind either
    host = urlparse(stack.url)
    with socket.create_connection((host.hostname, host.port)) as s:
        s.sendall((f"POST /api/attachment/ HTTP/1.1\r\nHost: {host.netloc}\r\n"
                   f"Authorization: {editor.headers['Authorization']}\r\n"
                   f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: 10000000\r\n\r\n").encode() + body)
    deadline = time.monotonic() + 10
    while media_files(stack) != files and time.monotonic() < deadline:
        time.sleep(0.1)
    assert media_files(stack) == files


def test_attachments_follow_the_view_role_of_their_model(stack, admin, editor, plain, viewer):
    """Without a role that may view parts, part attachments do not exist for the caller:
    not listed (the count agrees), 404 for detail, metadata and the file; the gateway's
    cached answers for others never leak to it."""
    made = upload(editor, "private-plan.txt", model_id="777").json()
    url = f"{stack.url}/api/attachment/"
    params = {"model_id": 777, "limit": 10}
    for _ in range(4):  # both gateway workers, after the admin's answer was cached
        assert admin.get(url, params=params, timeout=10).json()["count"] == 1
        page = plain.get(url, params=params, timeout=10).json()
        assert (page["count"], page["results"]) == (0, [])
        assert viewer.get(url, params=params, timeout=10).json()["count"] == 1
        assert admin.get(f"{url}{made['pk']}/", timeout=10).status_code == 200
        r = plain.get(f"{url}{made['pk']}/", timeout=10)
        assert (r.status_code, r.json()) == (404, {"detail": "Not found."})
    assert plain.get(f"{url}{made['pk']}/metadata/", timeout=10).status_code == 404
    assert plain.patch(f"{url}{made['pk']}/", json={"comment": "x"}, timeout=10).status_code == 404
    assert plain.delete(f"{url}{made['pk']}/", timeout=10).status_code == 404
    assert plain.get(stack.url + made["attachment"], timeout=10).status_code == 404
    assert viewer.get(stack.url + made["attachment"], timeout=10).content == b"hello attachment"
    assert [r["pk"] for r in plain.get(url, timeout=10).json()
            if r["model_type"] == "part"] == []


def test_uploaders_e_mail_addresses_only_for_staff(stack, admin, viewer, make_user):
    """`user_detail.email` follows `/api/user/`: staff see it, other users do not (the
    gateway's cached answer for a staff user with the same roles never reaches them)."""
    staff_viewer = make_user("att-staff-viewer", "part:view", staff=True)
    made = upload(admin, "mailed.txt", model_id="779").json()
    assert made["user_detail"]["email"] == "admin@example.com"
    url = f"{stack.url}/api/attachment/"
    for _ in range(4):  # both gateway workers, each answer cached for the next caller
        for who, email in ((staff_viewer, "admin@example.com"), (viewer, "")):
            assert who.get(f"{url}{made['pk']}/", timeout=10).json()["user_detail"] == {
                "pk": made["upload_user"], "username": "admin", "first_name": "", "last_name": "",
                "email": email}
            listed = who.get(url, params={"model_id": 779}, timeout=10).json()
            assert [r["user_detail"]["email"] for r in listed] == [email]


def test_lists_filters_and_fresh_reads(stack, editor, viewer):
    plain = viewer  # any user who may view parts
    a = upload(editor, "one.txt", model_id="500", comment="Alpha").json()
    b = editor.post(f"{stack.url}/api/attachment/", timeout=10, json={
        "model_type": "part", "model_id": 501, "link": "https://x.org", "tags": ["red"]}).json()
    url = f"{stack.url}/api/attachment/"
    for _ in range(4):  # both gateway workers answer; each must see every change at once
        assert [r["pk"] for r in plain.get(url, params={"model_id": 500}, timeout=10).json()] == [a["pk"]]
    assert [r["pk"] for r in plain.get(url, params={"tags": "red"}, timeout=10).json()] == [b["pk"]]
    assert [r["pk"] for r in plain.get(url, params={"is_link": "true", "model_type": "part",
                                                     "model_id": 501}, timeout=10).json()] == [b["pk"]]
    page = plain.get(url, params={"limit": 1, "search": "alpha"}, timeout=10).json()
    assert page["count"] == 1 and page["results"][0]["pk"] == a["pk"]
    for n in range(4):
        r = editor.patch(f"{url}{a['pk']}/", json={"comment": f"v{n}"}, timeout=10)
        assert r.json()["comment"] == f"v{n}"
        assert plain.get(f"{url}{a['pk']}/", timeout=10).json()["comment"] == f"v{n}"
        assert plain.get(url, params={"model_id": 500}, timeout=10).json()[0]["comment"] == f"v{n}"
    options = editor.options(url, timeout=10).json()
    assert options["actions"]["POST"]["model_type"]["choices"][0] == {
        "value": "build", "display_name": "Build Order"}


def test_svg_is_sanitised(stack, editor):
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4">'
           b'<script>alert(1)</script><rect width="4" height="4"/></svg>')
    made = upload(editor, "logo.svg", svg).json()
    got = editor.get(stack.url + made["attachment"], timeout=10)
    assert got.headers["Content-Type"] == "image/svg+xml"
    assert b"script" not in got.content and b"<rect" in got.content


def test_a_text_file_renamed_to_svg_is_served_sanitised(stack, editor):
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4">'
           b'<script>alert(1)</script><rect width="4" height="4"/></svg>')
    made = upload(editor, "harmless.txt", svg).json()
    r = editor.patch(f"{stack.url}/api/attachment/{made['pk']}/", json={"filename": "x.svg"},
                     timeout=10)
    assert r.status_code == 200, r.text
    got = editor.get(stack.url + r.json()["attachment"], timeout=10)
    assert got.headers["Content-Type"] == "image/svg+xml"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert b"script" not in got.content and b"<rect" in got.content
    plain_text = upload(editor, "plain.txt", b"not xml").json()
    r = editor.patch(f"{stack.url}/api/attachment/{plain_text['pk']}/",
                     json={"filename": "plain.svg"}, timeout=10)
    assert (r.status_code, r.json()) == (400, {"filename": ["Invalid SVG file"]})


def test_notes_images(stack, editor, plain):
    url = f"{stack.url}/api/notes-image-upload/"
    r = plain.post(url, files={"image": ("pic.png", png_bytes())},
                   data={"model_type": "Part", "model_id": "3"}, timeout=10)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["image"] == "/media/notes/pic.png" and made["model_type"] == "Part"
    assert plain.get(stack.url + made["image"], timeout=10).content == png_bytes()
    for files, data, expected in (
            ({"image": ("fake.png", b"\x89PNG\r\n\x1a\nnot really")}, {}, {"image": [
                "Upload a valid image. The file you uploaded was either not an image or a "
                "corrupted image."]}),
            ({"image": ("pic.png", png_bytes())}, {"model_type": "widget"},
             {"model_type": ["Invalid model type 'widget'"]}),
            ({}, {}, {"image": ["No file was submitted."]})):
        r = plain.post(url, files=files or {"other": ("x", b"x")}, data=data, timeout=10)
        assert (r.status_code, r.json()) == (400, expected)
    listed = plain.get(url, params={"search": "part"}, timeout=10).json()
    assert [i["pk"] for i in listed] == [made["pk"]]


def test_notes_images_size_limit_and_delete(stack, admin, editor, plain):
    url = f"{stack.url}/api/notes-image-upload/"
    noise = io.BytesIO()  # a valid PNG over the stack's NOTES_IMAGE_MAX_BYTES (256 KB)
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(noise, "PNG")
    before = media_files(stack)
    r = plain.post(url, files={"image": ("big.png", noise.getvalue())}, timeout=10)
    assert (r.status_code, r.json()) == (
        413, {"detail": f"Upload exceeds the maximum size of {256 * 1024} bytes"})
    assert media_files(stack) == before

    mine = plain.post(url, files={"image": ("mine.png", png_bytes())}, timeout=10).json()
    r = editor.delete(f"{url}{mine['pk']}/", timeout=10)
    assert (r.status_code, r.json()) == (
        403, {"detail": "You do not have permission to perform this action."})
    assert plain.delete(f"{url}{mine['pk']}/", timeout=10).status_code == 204
    assert plain.delete(f"{url}{mine['pk']}/", timeout=10).status_code == 404
    assert plain.get(stack.url + mine["image"], timeout=10).status_code == 404
    assert "notes/mine.png" not in media_files(stack)
    theirs = editor.post(url, files={"image": ("theirs.png", png_bytes())}, timeout=10).json()
    assert admin.delete(f"{url}{theirs['pk']}/", timeout=10).status_code == 204  # staff
    assert [i["pk"] for i in plain.get(url, timeout=10).json()
            if i["pk"] in (mine["pk"], theirs["pk"])] == []


def test_events_are_audited(stack, admin, editor):
    made = upload(editor, "audited.txt").json()
    editor.patch(f"{stack.url}/api/attachment/{made['pk']}/", json={"comment": "x"}, timeout=10)
    editor.delete(f"{stack.url}/api/attachment/{made['pk']}/", timeout=10)
    wanted = ["attachment.uploaded", "attachment.updated", "attachment.deleted"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = admin.get(f"{stack.url}/api/events/", timeout=10, params={
            "service": "attachments", "stream": f"attachment:{made['pk']}"}).json()["results"]
        if [e["type"] for e in events] == wanted:
            break
        time.sleep(0.2)
    assert [e["type"] for e in events] == wanted
    assert events[0]["payload"]["file_key"] == "attachments/part/1/audited.txt"
    assert events[0]["actor"] == "att-editor"
