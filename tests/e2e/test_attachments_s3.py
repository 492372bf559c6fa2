"""Attachments and import data files on an S3-compatible store: a whole stack with
MEDIA_STORAGE=s3 against a real moto server on loopback (the gateway checks uploads in and
streams downloads from the bucket; the services place, rename, read and delete objects)."""
import boto3
import pytest

from tests.e2e.conftest import ADMIN, own_vhost, running_stack, token_session
from tests.s3server import start_s3_server

BUCKET = "e2e-media"


@pytest.fixture(scope="module")
def s3():
    endpoint, stop = start_s3_server()
    yield endpoint
    stop()


@pytest.fixture(scope="module")
def s3_stack(s3, rates_server, smtp, tmp_path_factory):
    with own_vhost() as vhost, running_stack(
            tmp_path_factory.mktemp("s3stack"), vhost, rates_server, smtp,
            MEDIA_STORAGE="s3", S3_ENDPOINT_URL=s3, S3_BUCKET=BUCKET,
            S3_ACCESS_KEY_ID="test", S3_SECRET_ACCESS_KEY="test") as stack:
        yield stack


@pytest.fixture(scope="module")
def bucket(s3, s3_stack):
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    return lambda: sorted(o["Key"] for o in
                          client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_upload_download_rename_delete_on_s3(s3_stack, bucket):
    admin = token_session(s3_stack, ADMIN)
    url = f"{s3_stack.url}/api/attachment/"
    body = b"0123456789" * 100_000
    r = admin.post(url, data={"model_type": "stockitem", "model_id": "7"},
                   files={"attachment": ("data.bin", body)}, timeout=20)
    assert r.status_code == 201, r.text
    made = r.json()
    assert bucket() == ["attachments/stockitem/7/data.bin"]
    got = admin.get(s3_stack.url + made["attachment"], timeout=20)
    assert got.content == body and got.headers["Content-Type"] == "application/octet-stream"
    part = admin.get(s3_stack.url + made["attachment"], headers={"Range": "bytes=5-14"},
                     timeout=20)
    assert (part.status_code, part.content) == (206, body[5:15])

    renamed = admin.patch(f"{url}{made['pk']}/", json={"filename": "renamed.bin"}, timeout=20)
    assert renamed.json()["filename"] == "renamed.bin"
    assert bucket() == ["attachments/stockitem/7/renamed.bin"]

    refused = admin.post(url, data={"model_type": "stockitem", "model_id": "7"},
                         files={"attachment": ("empty.bin", b"")}, timeout=20)
    assert refused.status_code == 400
    too_big = admin.post(url, data={"model_type": "stockitem", "model_id": "7"},
                         files={"attachment": ("big.bin", b"x" * (3 * 1024 * 1024))}, timeout=20)
    assert too_big.status_code == 413
    assert bucket() == ["attachments/stockitem/7/renamed.bin"]

    assert admin.delete(f"{url}{made['pk']}/", timeout=20).status_code == 204
    assert bucket() == []


def test_import_from_a_data_file_on_s3(s3_stack, bucket):
    """The importer reads its data file from the bucket (a temporary local copy)."""
    import time
    admin = token_session(s3_stack, ADMIN)
    text = b"code,description\nS3-1,one\nS3-2,two\n"
    r = admin.post(f"{s3_stack.url}/api/importer/session/", data={"model_type": "projectcode"},
                   files={"data_file": ("s3codes.csv", text)}, timeout=30)
    assert r.status_code == 201, r.text
    made = r.json()
    assert "import/s3codes.csv" in bucket()
    assert admin.get(s3_stack.url + made["data_file"], timeout=20).content == text
    admin.post(f"{s3_stack.url}/api/importer/session/{made['pk']}/accept_fields/", timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session = admin.get(f"{s3_stack.url}/api/importer/session/{made['pk']}/",
                            timeout=10).json()
        if session["status"] == 30:
            break
        time.sleep(0.1)
    assert session["status"] == 30 and session["row_count"] == 2
    admin.delete(f"{s3_stack.url}/api/importer/session/{made['pk']}/", timeout=10)
    assert "import/s3codes.csv" not in bucket()
