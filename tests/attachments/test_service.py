"""The attachments service's entrypoints against a real database (SQLite and PostgreSQL) and
a real blob store on disk; the gateway's part (multipart, downloads) is in tests/e2e."""
import hashlib
import os
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.attachments import models
from services.attachments.service import Service
from services.attachments.settings import AttachmentsSettings
from svckit.blobstore import LocalBlobStore
from svckit.context import Caller
from svckit.errors import ApiError, NotFound, PermissionDenied, ValidationFailed
from svckit.events import utcnow
from tests.helpers import STAFF, USER, worker_factory

PART_EDITOR = Caller(user_id=5, username="editor", roles={"part": ["view", "change"]})
PART_DELETER = Caller(user_id=6, username="remover",
                      roles={"part": ["view", "change", "delete"]})
VIEWER = Caller(user_id=8, username="viewer", roles={"build": ["view"]})  # parts too


class Users:
    """The users service, knowing the callers of these tests."""
    known = {c.user_id: c for c in (STAFF, USER, PART_EDITOR, PART_DELETER, VIEWER)}

    def user_details(self, pks):
        return {str(p): self.known[p].brief for p in pks}


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def blobs(tmp_path):
    return LocalBlobStore(tmp_path / "media")


@pytest.fixture
def svc(db, blobs):
    def make(caller=STAFF, **settings):
        return worker_factory(Service, db=db, caller=caller, users=Users(), blobs=blobs,
                              settings=AttachmentsSettings(**settings))
    return make


def checked_in(blobs, data: bytes, name="file.txt") -> dict:
    """What the gateway hands over after streaming an upload into the store."""
    key = f"incoming/{uuid.uuid4().hex}"
    info = blobs.write(key, [data])
    return {"key": key, "name": name, "size": info.size, "sha256": info.sha256}


def stored(blobs) -> list[str]:
    return sorted(key for key, _ in blobs.list(""))


def test_upload_places_the_file_and_records_it(svc, blobs):
    upload = checked_in(blobs, b"hello world 123", "r####at report.pdf")
    made = svc(PART_EDITOR).create_attachment(
        data={"model_type": "part", "model_id": "1", "comment": "Spec", "tags": '["a","b"]'},
        upload=upload)
    assert made == {"pk": 1, "attachment": "/media/attachments/part/1/rat_report.pdf",
                    "filename": "rat_report.pdf", "link": None, "comment": "Spec",
                    "upload_date": utcnow().date().isoformat(), "upload_user": 5,
                    "user_detail": Users().user_details([5])["5"], "file_size": 15,
                    "model_type": "part", "model_id": 1, "tags": ["a", "b"]}
    assert stored(blobs) == ["attachments/part/1/rat_report.pdf"]  # incoming is gone
    assert b"".join(blobs.read("attachments/part/1/rat_report.pdf")) == b"hello world 123"
    again = svc(PART_EDITOR).create_attachment(data={"model_type": "part", "model_id": 1},
                                               upload=upload)
    assert again["pk"] == 1  # a redelivered request creates nothing twice


def test_name_clash_gets_a_suffix_and_never_overwrites(svc, blobs):
    for body in (b"first", b"second"):
        svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                upload=checked_in(blobs, body, "same.txt"))
    first, second = svc().list_attachments(params={})["results"]
    assert first["filename"] == "same.txt"
    assert second["filename"].startswith("same_") and second["filename"].endswith(".txt")
    assert len(second["filename"]) == len("same_.txt") + 7
    assert b"".join(blobs.read("attachments/part/1/same.txt")) == b"first"


def test_svg_is_sanitised_and_hashed_after(svc, blobs, db):
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
           b'<script>alert(2)</script><path d="M0 0h10v10z"/></svg>')
    made = svc().create_attachment(data={"model_type": "part", "model_id": 2},
                                   upload=checked_in(blobs, svg, "logo.svg"))
    body = b"".join(blobs.read("attachments/part/2/logo.svg"))
    assert b"script" not in body and b"onload" not in body and b"M0 0h10v10z" in body
    with db.read() as s:
        digest = s.execute(select(models.attachments.c.sha256)).scalar_one()
    assert digest == hashlib.sha256(body).hexdigest()
    assert made["file_size"] == len(body)


def test_permissions_come_from_the_target_models_roles(svc, blobs):
    link = {"model_type": "part", "model_id": 1, "link": "https://example.com/x"}
    with pytest.raises(PermissionDenied) as denied:
        svc(USER).create_attachment(data={"model_type": "part", "model_id": 1})
    assert denied.value.detail == {"detail": "User does not have permission to create or edit "
                                             "attachments for this model"}  # before Missing file
    with pytest.raises(PermissionDenied):
        svc(PART_EDITOR).create_attachment(data={**link, "model_type": "salesorder"})
    builder = Caller(user_id=7, username="b", roles={"build": ["view", "change"]})
    assert svc(builder).create_attachment(data={**link, "model_type": "stockitem"})["pk"] == 1
    pk = svc(PART_EDITOR).create_attachment(data=link)["pk"]
    with pytest.raises(PermissionDenied):  # moving it to a model the caller may not edit
        svc(PART_EDITOR).update_attachment(pk=pk, data={"model_type": "build"}, partial=True)
    with pytest.raises(PermissionDenied) as denied:
        svc(PART_EDITOR).delete_attachment(pk=pk)
    assert denied.value.detail == {"detail": "User does not have permission to delete this "
                                             "attachment"}
    svc(PART_DELETER).delete_attachment(pk=pk)
    with pytest.raises(NotFound):
        svc(USER).get_attachment(pk=pk)


def test_reads_need_the_view_role_of_the_target_model(svc, blobs):
    """A caller who may not view a model type sees none of its attachments: not listed
    (counts agree), 404 for detail, metadata, media, changes and deletes; bulk deletes
    act only on what the caller sees."""
    part = svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                   upload=checked_in(blobs, b"secret", "plan.txt"))
    order = svc().create_attachment(data={"model_type": "salesorder", "model_id": 1,
                                          "link": "https://example.com/so"})
    seller = Caller(user_id=9, username="seller", roles={"sales_order": ["view", "change",
                                                                         "delete"]})
    page = svc(seller).list_attachments(params={"limit": "10"})
    assert page["count"] == 1 and [r["pk"] for r in page["results"]] == [order["pk"]]
    assert svc(seller).list_attachments(params={"model_type": "part"})["results"] == []
    assert svc(USER).list_attachments(params={})["results"] == []
    key = part["attachment"][len("/media/"):]
    for call in (lambda c: c.get_attachment(pk=part["pk"]),
                 lambda c: c.attachment_metadata(pk=part["pk"]),
                 lambda c: c.media_file(key=key),
                 lambda c: c.update_attachment(pk=part["pk"], data={"comment": "x"},
                                               partial=True),
                 lambda c: c.delete_attachment(pk=part["pk"])):
        with pytest.raises(NotFound):
            call(svc(seller))
    with pytest.raises(ValidationFailed) as info:  # the part attachment is not there for it
        svc(seller).bulk_delete_attachments(body={"items": [part["pk"]]})
    assert info.value.detail == {"non_field_errors": "No items found to delete"}
    assert svc(seller).bulk_delete_attachments(body={"filters": {"model_id": 1}}) == 1
    assert [r["pk"] for r in svc().list_attachments(params={})["results"]] == [part["pk"]]
    assert svc(VIEWER).get_attachment(pk=part["pk"])["comment"] == ""  # build's view: parts too
    assert svc(VIEWER).media_file(key=key)["size"] == 6


@pytest.mark.parametrize("data, expected", [
    ({"model_id": 1}, {"model_type": ["This field is required."]}),
    ({"model_type": "part"}, {"model_id": ["This field is required."]}),
    ({"model_type": "widget", "model_id": 1}, {"model_type": ['"widget" is not a valid choice.']}),
    ({"model_type": "part", "model_id": -1},
     {"model_id": ["Ensure this value is greater than or equal to 0."]}),
    ({"model_type": "part", "model_id": 1},
     {"attachment": ["Missing file"], "link": ["Missing external link"]}),
    ({"model_type": "part", "model_id": 1, "link": "not a url"}, {"link": ["Enter a valid URL."]}),
    ({"model_type": "part", "model_id": 1, "link": "javascript:alert(1)"},
     {"link": ["Enter a valid URL."]}),
    ({"model_type": "part", "model_id": 1, "link": "https://x.org/" + "a" * 200},
     {"link": ["Ensure this field has no more than 200 characters."]}),
    ({"model_type": "part", "model_id": 1, "link": "https://x.org", "tags": "[oops"},
     {"tags": ["Invalid json list. A tag list submitted in string form must be valid json."]}),
    ({"model_type": "part", "model_id": 1, "link": "https://x.org", "comment": "c" * 251},
     {"comment": ["Ensure this field has no more than 250 characters."]}),
    ({"model_type": "part", "model_id": 1, "attachment": "/etc/passwd"},
     {"attachment": ["The submitted data was not a file. Check the encoding type on the form."]}),
])
def test_bad_input_leaves_nothing(svc, blobs, data, expected):
    with pytest.raises(ValidationFailed) as info:
        svc().create_attachment(data=data)
    assert info.value.detail == expected
    assert svc().list_attachments(params={})["results"] == []


def test_bad_uploads_leave_no_row_and_no_file(svc, blobs):
    cases = [(checked_in(blobs, b"", "empty.txt"), {"attachment": ["The submitted file is empty."]}),
             (checked_in(blobs, b"x", "bad\x01name.txt"),
              {"attachment": ["Filename contains control characters"]}),
             (checked_in(blobs, b"<svg><unclosed", "broken.svg"),
              {"attachment": ["Invalid SVG file"]})]
    for upload, expected in cases:
        with pytest.raises(ValidationFailed) as info:
            svc().create_attachment(data={"model_type": "part", "model_id": 1}, upload=upload)
        assert info.value.detail == expected
        blobs.delete(upload["key"])  # the gateway's part
    with pytest.raises(ValidationFailed) as info:  # both a file and a link
        svc().create_attachment(data={"model_type": "part", "model_id": 1,
                                      "link": "https://x.org"}, upload=checked_in(blobs, b"x"))
    assert "non_field_errors" in info.value.detail
    assert svc().list_attachments(params={})["results"] == []
    with svc().db.read() as s:
        assert s.execute(select(models.blob_claims)).all() == []
    assert all(key.startswith("incoming/") for key in stored(blobs))


def test_client_save_sends_the_whole_object_back(svc, blobs):
    made = svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                   upload=checked_in(blobs, b"abc", "a.txt"))
    link = svc().create_attachment(data={"model_type": "part", "model_id": 1,
                                         "link": "https://x.org", "comment": "old"})
    for obj in (made, link):
        saved = svc().update_attachment(pk=obj["pk"], data={**obj, "comment": "new",
                                                            "file_size": 99, "pk": 42},
                                        partial=True)
        assert saved == {**obj, "comment": "new"}


def test_rename_moves_the_file(svc, blobs, db):
    made = svc().create_attachment(data={"model_type": "part", "model_id": 3},
                                   upload=checked_in(blobs, b"abc", "a.txt"))
    renamed = svc().update_attachment(pk=made["pk"], data={"filename": "b c.txt"}, partial=True)
    assert renamed["attachment"] == "/media/attachments/part/3/b_c.txt"
    assert stored(blobs) == ["attachments/part/3/b_c.txt"]
    for bad, message in (("../x.txt", "Filename must not contain path separators"),
                         ("..", "Invalid filename")):
        with pytest.raises(ValidationFailed) as info:
            svc().update_attachment(pk=made["pk"], data={"filename": bad}, partial=True)
        assert info.value.detail == {"filename": [message]}
    link = svc().create_attachment(data={"model_type": "part", "model_id": 3,
                                         "link": "https://x.org"})
    with pytest.raises(ValidationFailed) as info:
        svc().update_attachment(pk=link["pk"], data={"filename": "x.txt"}, partial=True)
    assert info.value.detail == {"filename": ["Only an uploaded file can be renamed"]}
    with db.read() as s:
        types = s.execute(select(models.store.events.c.type)
                          .where(models.store.events.c.stream_id == str(made["pk"]))).scalars()
        assert list(types) == ["attachment.uploaded", "attachment.renamed"]


def test_a_file_renamed_to_svg_is_sanitised(svc, blobs, db):
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
           b'<rect width="4" height="4" onclick="alert(2)"/></svg>')
    made = svc().create_attachment(data={"model_type": "part", "model_id": 4},
                                   upload=checked_in(blobs, svg, "innocent.txt"))
    assert b"".join(blobs.read("attachments/part/4/innocent.txt")) == svg  # text: as sent
    renamed = svc().update_attachment(pk=made["pk"], data={"filename": "logo.SVG"},
                                      partial=True)
    body = b"".join(blobs.read("attachments/part/4/logo.SVG"))
    assert b"script" not in body and b"onclick" not in body and b"<rect" in body
    assert stored(blobs) == ["attachments/part/4/logo.SVG"]
    assert renamed["file_size"] == len(body)
    with db.read() as s:
        digest = s.execute(select(models.attachments.c.sha256)).scalar_one()
    assert digest == hashlib.sha256(body).hexdigest()

    text = svc().create_attachment(data={"model_type": "part", "model_id": 4},
                                   upload=checked_in(blobs, b"just text", "notes.txt"))
    with pytest.raises(ValidationFailed) as info:  # not an SVG: it cannot become one
        svc().update_attachment(pk=text["pk"], data={"filename": "notes.svg"}, partial=True)
    assert info.value.detail == {"filename": ["Invalid SVG file"]}
    assert svc().get_attachment(pk=text["pk"]) == text
    assert stored(blobs) == ["attachments/part/4/logo.SVG", "attachments/part/4/notes.txt"]


def test_replacing_and_removing_the_file(svc, blobs):
    made = svc().create_attachment(data={"model_type": "part", "model_id": 4},
                                   upload=checked_in(blobs, b"one", "one.txt"))
    replaced = svc().update_attachment(pk=made["pk"], data={}, partial=True,
                                       upload=checked_in(blobs, b"second", "two.txt"))
    assert replaced["filename"] == "two.txt" and replaced["file_size"] == 6
    assert stored(blobs) == ["attachments/part/4/two.txt"]
    with pytest.raises(ValidationFailed):  # removing the file needs a link instead
        svc().update_attachment(pk=made["pk"], data={"attachment": None}, partial=True)
    as_link = svc().update_attachment(pk=made["pk"], data={
        "attachment": None, "link": "https://x.org/doc"}, partial=True)
    assert as_link["attachment"] is None and as_link["link"] == "https://x.org/doc"
    assert as_link["file_size"] == 0
    assert stored(blobs) == []


def test_put_needs_the_required_fields(svc):
    pk = svc().create_attachment(data={"model_type": "part", "model_id": 1,
                                       "link": "https://x.org", "comment": "keep"})["pk"]
    with pytest.raises(ValidationFailed) as info:
        svc().update_attachment(pk=pk, data={"comment": "x"}, partial=False)
    assert info.value.detail == {"model_type": ["This field is required."],
                                 "model_id": ["This field is required."]}
    put = svc().update_attachment(pk=pk, data={"model_type": "build", "model_id": 2},
                                  partial=False)
    assert (put["model_type"], put["model_id"], put["comment"]) == ("build", 2, "keep")


def test_delete_removes_the_file_after_commit(svc, blobs):
    made = svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                   upload=checked_in(blobs, b"abc", "gone.txt"))
    svc().delete_attachment(pk=made["pk"])
    assert stored(blobs) == []


def test_bulk_delete(svc, blobs):
    for model_type, model_id in (("part", 1), ("part", 2), ("build", 1)):
        svc().create_attachment(data={"model_type": model_type, "model_id": model_id},
                                upload=checked_in(blobs, b"x", f"{model_type}.txt"))
    sees_builds = Caller(user_id=6, username="remover", roles={
        "part": ["view", "change", "delete"], "build": ["view"]})
    with pytest.raises(ValidationFailed) as info:  # sees build/1, may not delete it
        svc(sees_builds).bulk_delete_attachments(body={"filters": {"model_id": 1}})
    assert info.value.detail == {"non_field_errors": [
        "User does not have permission to delete these attachments"]}
    for body, message in (({}, ["List of items or filters must be provided for bulk deletion"]),
                          ({"filters": {"link__startswith": "x"}}, "Invalid filters provided"),
                          ({"items": [99]}, "No items found to delete")):
        with pytest.raises(ValidationFailed) as info:
            svc().bulk_delete_attachments(body=body)
        assert info.value.detail == {"non_field_errors": message}
    assert svc(PART_DELETER).bulk_delete_attachments(body={"filters": {"model_type": "part"}}) == 2
    assert stored(blobs) == ["attachments/build/1/build.txt"]
    assert svc().bulk_delete_attachments(body={"items": [3]}) == 1
    assert stored(blobs) == []


def test_list_filters_search_ordering_and_paging(svc, blobs):
    svc().create_attachment(data={"model_type": "part", "model_id": 10, "comment": "Alpha",
                                  "tags": ["red"]}, upload=checked_in(blobs, b"12345", "big.txt"))
    svc(PART_EDITOR).create_attachment(data={"model_type": "part", "model_id": 11,
                                             "link": "https://x.org", "comment": "beta",
                                             "tags": ["blue", "red"]})
    svc().create_attachment(data={"model_type": "build", "model_id": 10, "comment": "gamma"},
                            upload=checked_in(blobs, b"1", "small.txt"))

    def pks(**params):
        return [r["pk"] for r in svc(VIEWER).list_attachments(params=params)["results"]]

    assert pks(model_type="part") == [1, 2]
    assert pks(model_type="part", model_id="10") == [1]
    assert pks(is_link="true") == [2] and pks(is_file="1") == [1, 3]
    assert pks(is_file="maybe") == [1, 2, 3]
    assert pks(upload_user="5") == [2]
    assert pks(tags="blue") == [2] and pks(tags="red") == [1, 2]
    assert pks(search="ALPHA") == [1] and pks(search="build") == [3]
    assert pks(ordering="-file_size") == [1, 3, 2]
    assert pks(ordering="nonsense") == [1, 2, 3]
    page = svc(VIEWER).list_attachments(params={"limit": "1", "offset": "1"})
    assert page["count"] == 3 and [r["pk"] for r in page["results"]] == [2]
    with pytest.raises(ValidationFailed):
        pks(model_id="abc")


def test_metadata_writes_are_for_superusers(svc):
    pk = svc().create_attachment(data={"model_type": "part", "model_id": 1,
                                       "link": "https://x.org"})["pk"]
    assert svc(VIEWER).attachment_metadata(pk=pk) == {"metadata": {}}
    with pytest.raises(PermissionDenied):
        svc(PART_EDITOR).set_attachment_metadata(pk=pk, body={"metadata": {"a": 1}},
                                                 partial=True)
    svc().set_attachment_metadata(pk=pk, body={"metadata": {"a": 1}}, partial=False)
    assert svc().set_attachment_metadata(pk=pk, body={"metadata": {"b": 2}}, partial=True) == \
        {"metadata": {"a": 1, "b": 2}}
    with pytest.raises(ValidationFailed) as info:
        svc().set_attachment_metadata(pk=pk, body={"metadata": [1]}, partial=True)
    assert info.value.detail == {"metadata": ["Metadata must be a python dict object"]}


def test_sweep_removes_orphans_only(svc, blobs, db):
    kept = svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                   upload=checked_in(blobs, b"keep", "keep.txt"))
    stale = checked_in(blobs, b"abandoned upload")
    fresh = checked_in(blobs, b"still being handed over")
    blobs.write("attachments/part/9/crashed.txt", [b"placed, never committed"])
    with db.write() as s:  # a crash between placing a blob and recording it
        s.execute(models.blob_claims.insert().values(key="attachments/part/9/crashed.txt",
                                                     due=utcnow() - timedelta(seconds=1)))
    two_hours_ago = time.time() - 7200
    os.utime(blobs.local_path(stale["key"]), (two_hours_ago, two_hours_ago))
    assert svc().sweep() == {"claims": 1, "incoming": 1}
    assert stored(blobs) == [kept["attachment"][len("/media/"):], fresh["key"]]


def test_media_lookup(svc, blobs):
    made = svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                   upload=checked_in(blobs, b"%PDF-1.4", "doc.pdf"))
    info = svc(VIEWER).media_file(key="attachments/part/1/doc.pdf")
    assert info["size"] == 8 and info["content_type"] == "application/pdf"
    assert info["filename"] == "doc.pdf" and made["filename"] == "doc.pdf"
    with pytest.raises(NotFound):
        svc(VIEWER).media_file(key="attachments/part/1/other.pdf")


def test_replay_rebuilds_identical_answers(svc, blobs, db):
    a = svc().create_attachment(data={"model_type": "part", "model_id": 1, "tags": ["t"]},
                                upload=checked_in(blobs, b"abc", "a.txt"))
    b = svc().create_attachment(data={"model_type": "build", "model_id": 2,
                                      "link": "https://x.org"})
    svc().update_attachment(pk=a["pk"], data={"filename": "renamed.txt", "comment": "c"},
                            partial=True)
    svc().set_attachment_metadata(pk=b["pk"], body={"metadata": {"k": "v"}}, partial=False)
    c = svc().create_attachment(data={"model_type": "part", "model_id": 1},
                                upload=checked_in(blobs, b"zz", "c.txt"))
    svc().delete_attachment(pk=c["pk"])
    before = svc().list_attachments(params={})["results"]
    meta = svc().attachment_metadata(pk=b["pk"])
    with db.write() as s:
        s.execute(update(models.attachments).values(comment="corrupted"))
        models.store.replay(s)
    assert svc().list_attachments(params={})["results"] == before
    assert svc().attachment_metadata(pk=b["pk"]) == meta


def png(size=(4, 4)) -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


def test_notes_images_have_a_size_limit_of_their_own(svc, blobs):
    with pytest.raises(ApiError) as info:
        svc(USER, NOTES_IMAGE_MAX_BYTES=len(png()) - 1).create_notes_image(
            data={}, upload=checked_in(blobs, png(), "pic.png"))
    assert (info.value.status, info.value.detail) == (
        413, {"detail": f"Upload exceeds the maximum size of {len(png()) - 1} bytes"})
    assert svc(USER).list_notes_images(params={})["results"] == []
    assert svc(USER, NOTES_IMAGE_MAX_BYTES=len(png())).create_notes_image(
        data={}, upload=checked_in(blobs, png(), "pic.png"))["image"] == "/media/notes/pic.png"


def test_a_notes_image_is_never_served_as_an_svg(svc, blobs):
    """A real PNG named `.svg` would be served as image/svg+xml unscrubbed: refused, as
    anything else that is not an image Pillow opens."""
    for name in ("pic.svg", "PIC.SVG"):
        with pytest.raises(ValidationFailed) as info:
            svc(USER).create_notes_image(data={}, upload=checked_in(blobs, png(), name))
        assert info.value.detail == {"image": [
            "Upload a valid image. The file you uploaded was either not an image or a "
            "corrupted image."]}
    assert svc(USER).list_notes_images(params={})["results"] == []
    assert [k for k in stored(blobs) if k.startswith("notes/")] == []


def test_notes_images_are_deleted_by_staff_or_their_uploader(svc, blobs, db):
    mine = svc(USER).create_notes_image(data={}, upload=checked_in(blobs, png(), "a.png"))
    other = svc(PART_EDITOR).create_notes_image(data={}, upload=checked_in(blobs, png(), "b.png"))
    with pytest.raises(PermissionDenied):
        svc(USER).delete_notes_image(pk=other["pk"])
    svc(USER).delete_notes_image(pk=mine["pk"])
    with pytest.raises(NotFound):
        svc(USER).delete_notes_image(pk=mine["pk"])
    with pytest.raises(NotFound):
        svc(USER).media_file(key="notes/a.png")
    assert [k for k in stored(blobs) if k.startswith("notes/")] == ["notes/b.png"]
    staff = Caller(user_id=11, username="ops", is_staff=True)
    svc(staff).delete_notes_image(pk=other["pk"])
    assert svc(USER).list_notes_images(params={})["results"] == []
    assert stored(blobs) == []
    with db.write() as s:  # the deletes are events: replay agrees
        models.store.replay(s)
    assert svc(USER).list_notes_images(params={})["results"] == []


GONE = "The uploaded file is gone; send it again"


@pytest.mark.parametrize("key", ["attachments/part/1/other.txt", "incoming/..",
                                 "incoming/a/b", "incoming/"])
def test_an_upload_reference_outside_incoming_is_refused(svc, blobs, key):
    """svckit.claimcheck decides; `incoming/..` and `incoming/` were server errors before."""
    blobs.write("attachments/part/1/other.txt", [b"someone else's"])
    upload = {"key": key, "name": "x.txt", "size": 3, "sha256": ""}
    with pytest.raises(ValidationFailed) as refused:
        svc().create_attachment(data={"model_type": "part", "model_id": 1}, upload=upload)
    assert refused.value.detail == {"attachment": ["Invalid upload reference"]}
    with pytest.raises(ValidationFailed) as refused:
        svc().create_notes_image(data={}, upload=upload)
    assert refused.value.detail == {"image": ["Invalid upload reference"]}
    assert stored(blobs) == ["attachments/part/1/other.txt"]


@pytest.mark.parametrize("name", ["gone.txt", "gone.svg"])
def test_an_upload_gone_meanwhile_is_a_400_and_leaves_nothing(svc, blobs, db, name):
    """An incoming blob swept (or discarded) before the service claimed it: a 400 on the
    file's field, no row, no placed file, no claim (a server error before)."""
    upload = checked_in(blobs, b"<svg/>", name)
    image = checked_in(blobs, png(), "gone.png")
    for key in (upload["key"], image["key"]):
        blobs.delete(key)
    with pytest.raises(ValidationFailed) as gone:
        svc().create_attachment(data={"model_type": "part", "model_id": 1}, upload=upload)
    assert gone.value.detail == {"attachment": [GONE]}
    with pytest.raises(ValidationFailed) as gone:
        svc().create_notes_image(data={}, upload=image)
    assert gone.value.detail == {"image": [GONE]}
    assert stored(blobs) == []
    with db.read() as s:
        for table in (models.attachments, models.notes_images, models.blob_claims):
            assert s.execute(select(table)).all() == []


class CountingUsers(Users):
    """The users service, counting the pks each `user_details` call asks for."""

    def __init__(self):
        self.asked: list[list] = []

    def user_details(self, pks):
        self.asked.append(sorted(pks))
        return {str(p): {**self.known[p].brief, "email": "shown-to-staff-only@example.com"}
                for p in pks}


def test_user_detail_of_the_callers_own_attachments_needs_no_users_call(db, blobs):
    writer = Caller(user_id=5, username="editor", first_name="Ed", last_name="Itor",
                    email="ed@example.com", roles={"part": ["view", "change"]})
    staff = STAFF.model_copy(update={"email": "admin@example.com"})
    users = CountingUsers()

    def svc(caller):
        return worker_factory(Service, db=db, caller=caller, users=users, blobs=blobs,
                              settings=AttachmentsSettings())

    own = svc(writer).create_attachment(data={"model_type": "part", "model_id": 1,
                                              "link": "https://example.com/own"})
    theirs = svc(staff).create_attachment(data={"model_type": "part", "model_id": 1,
                                                "link": "https://example.com/staff"})
    assert users.asked == []
    # e-mail addresses for staff only, the caller's own included (as `user_details`)
    shown = {"pk": 5, "username": "editor", "first_name": "Ed", "last_name": "Itor",
             "email": ""}
    assert own["user_detail"] == shown
    assert svc(writer).get_attachment(pk=own["pk"])["user_detail"] == shown
    assert theirs["user_detail"]["email"] == "admin@example.com"
    assert users.asked == []

    assert svc(writer).get_attachment(pk=theirs["pk"])["user_detail"]["pk"] == 1
    assert users.asked == [[1]]
    listed = svc(writer).list_attachments(params={})["results"]
    assert [a["user_detail"]["pk"] for a in listed] == [5, 1]
    assert users.asked == [[1], [1]]  # one call, for the others only
    assert svc(staff).get_attachment(pk=own["pk"])["user_detail"]["email"] == \
        "shown-to-staff-only@example.com"
    assert users.asked == [[1], [1], [5]]
