"""Replaying the attachments service's log rebuilds what its API shows (attachments, their
metadata, notes images) and every table it projects, exactly."""

from services.attachments import models
from services.attachments.service import Service
from svckit.blobstore import LocalBlobStore
from tests.attachments.test_service import PART_DELETER, Users, checked_in, png
from tests.helpers import STAFF, USER, projected_rows, replay, worker_factory


def test_replay_rebuilds_the_api_visible_state(make_db, tmp_path):
    db = make_db(models.metadata)
    blobs = LocalBlobStore(tmp_path / "media")

    def svc(caller=STAFF):
        return worker_factory(Service, db=db, caller=caller, users=Users(), blobs=blobs)

    kept = svc().create_attachment(data={"model_type": "part", "model_id": 1, "comment": "c",
                                         "tags": '["a", "b"]'},
                                   upload=checked_in(blobs, b"spec sheet", "spec.txt"))
    link = svc().create_attachment(data={"model_type": "build", "model_id": 2,
                                         "link": "https://example.com/x"})
    doomed = svc().create_attachment(data={"model_type": "part", "model_id": 1,
                                           "link": "https://example.com/gone"})
    bulk = svc().create_attachment(data={"model_type": "part", "model_id": 3,
                                         "link": "https://example.com/bulk"})
    svc().update_attachment(pk=kept["pk"], data={"filename": "renamed.txt", "tags": '["b"]'},
                            partial=True)
    svc().update_attachment(pk=link["pk"], data={"comment": "moved", "model_type": "part"},
                            partial=True)
    svc().set_attachment_metadata(pk=kept["pk"], body={"metadata": {"x": 1}}, partial=False)
    svc().set_attachment_metadata(pk=kept["pk"], body={"metadata": {"y": 2}}, partial=True)
    svc().delete_attachment(pk=doomed["pk"])
    assert svc(PART_DELETER).bulk_delete_attachments(body={"items": [bulk["pk"]]}) == 1
    svc(USER).create_notes_image(data={}, upload=checked_in(blobs, png(), "kept.png"))
    gone = svc(USER).create_notes_image(data={}, upload=checked_in(blobs, png(), "gone.png"))
    svc(USER).delete_notes_image(pk=gone["pk"])

    def visible() -> dict:
        listed = svc().list_attachments(params={})["results"]
        return {"list": listed, "details": [svc().get_attachment(pk=a["pk"]) for a in listed],
                "metadata": [svc().attachment_metadata(pk=a["pk"]) for a in listed],
                "notes": svc(USER).list_notes_images(params={})["results"],
                "file": svc().media_file(key=svc().get_attachment(pk=kept["pk"])[
                    "attachment"].removeprefix("/media/"))}

    before, tables = visible(), projected_rows(db, models)
    assert [a["pk"] for a in before["list"]] == [kept["pk"], link["pk"]]
    assert before["metadata"][0] == {"metadata": {"x": 1, "y": 2}}
    assert all(tables.values()), tables  # every projected table has rows to rebuild

    assert replay(db, models) > 0
    assert visible() == before
    assert projected_rows(db, models) == tables
