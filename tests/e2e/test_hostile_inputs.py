"""Inputs found by fuzzing and flooding: each is a 4xx in InvenTree's shape, never a 500
(issue 15 §2 and the flood, unbounded-list and search findings of §3)."""
import json

import pytest
import requests

BIG = "9" * 30  # far beyond 64 bits
DIGITS_4301 = "1" * 4301  # one more than Python converts to int by default

NOT_OBJECTS = [("null", "NoneType"), ("[null, null]", "list"), ("5", "int"),
               ('"text"', "str"), ("true", "bool")]
OBJECT_ENDPOINTS = [
    ("POST", "/api/attachment/"), ("POST", "/api/importer/session/"),
    ("PATCH", "/api/importer/session/1/"), ("PUT", "/api/importer/column-mapping/1/"),
    ("PATCH", "/api/importer/row/1/"), ("POST", "/api/project-code/"),
    ("DELETE", "/api/attachment/"), ("PUT", "/api/attachment/1/metadata/"),
    ("POST", "/api/generate/serial-number/"), ("POST", "/api/auth/login/"),
]


@pytest.mark.parametrize("method,path", OBJECT_ENDPOINTS)
def test_a_body_that_is_not_an_object_is_drfs_400(admin, method, path):
    for text, kind in NOT_OBJECTS:
        r = admin.request(method, f"{admin.base}{path}", data=text, timeout=10,
                          headers={"Content-Type": "application/json"})
        assert (r.status_code, r.json()) == (400, {"non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {kind}."]}), (path, text)


@pytest.mark.parametrize("method,path", [("POST", "/api/auth/login/"),
                                         ("POST", "/api/project-code/"),
                                         ("PATCH", "/api/attachment/1/metadata/")])
def test_deeply_nested_json_is_a_parse_error(admin, method, path):
    for body in ("[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
                 '{"metadata": ' + "[" * 100 + "]" * 100 + "}"):
        r = admin.request(method, f"{admin.base}{path}", data=body, timeout=10,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["detail"].startswith("JSON parse error - "), r.text
    r = requests.post(f"{admin.base}/api/auth/login/", data='{"username": NaN}', timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.json() == {"detail": "JSON parse error - Out of range float values are not "
                                  "JSON compliant: NaN"}


def test_nesting_inside_strings_and_up_to_the_limit_is_fine(admin):
    metadata = {"brackets": "[[[[{{{{" * 50, "deep": json.loads("[" * 60 + "]" * 60)}
    code = admin.post(f"{admin.base}/api/project-code/", json={"code": "NEST1"},
                      timeout=10).json()
    r = admin.patch(f"{admin.base}/api/project-code/{code['pk']}/metadata/",
                    json={"metadata": metadata}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"] == metadata


@pytest.mark.parametrize("query,field,message", [
    (f"/api/user/group/?limit=10&offset={BIG}", "offset",
     "Ensure this value is less than or equal to 9223372036854775807."),
    (f"/api/notifications/?limit=10&offset={BIG}", "offset",
     "Ensure this value is less than or equal to 9223372036854775807."),
    (f"/api/project-code/?limit={BIG}", "limit",
     "Ensure this value is less than or equal to 10000."),
    (f"/api/attachment/?limit=1&offset={DIGITS_4301[:3000]}", "offset",
     "Ensure this value is less than or equal to 9223372036854775807."),
    (f"/api/attachment/?model_id={BIG}", "model_id",
     "Ensure this value is less than or equal to 9223372036854775807."),
    (f"/api/attachment/?model_id=-{BIG}", "model_id",
     "Ensure this value is greater than or equal to -9223372036854775808."),
    (f"/api/attachment/?upload_user={BIG}", "upload_user",
     "Select a valid choice. That choice is not one of the available choices."),
    (f"/api/importer/row/?session={BIG}", "session",
     "Ensure this value is less than or equal to 9223372036854775807."),
])
def test_query_integers_beyond_64_bits_name_the_field(admin, query, field, message):
    r = admin.get(f"{admin.base}{query}", timeout=10)
    assert (r.status_code, r.json()) == (400, {field: [message]}), r.text


def test_the_largest_offset_is_just_an_empty_page(admin):
    r = admin.get(f"{admin.base}/api/project-code/?limit=5&offset={2**63 - 1}", timeout=10)
    assert r.status_code == 200 and r.json()["results"] == []


def test_body_integers_beyond_their_column_name_the_field(admin):
    base = admin.base
    states = admin.get(f"{base}/api/contenttype/", timeout=10).json()
    model = next(t["pk"] for t in states if t["model"] == "stockitem")
    r = admin.post(f"{base}/api/generic/status/custom/", timeout=10, json={
        "key": 2**40, "logical_key": -2**40, "name": "big", "label": "Big", "model": model,
        "reference_status": "StockStatus"})
    assert (r.status_code, r.json()) == (400, {
        "key": ["Ensure this value is less than or equal to 2147483647."],
        "logical_key": ["Ensure this value is greater than or equal to -2147483648."]})
    for path in ("/api/generate/serial-number/", "/api/generate/batch-code/"):
        r = admin.post(f"{base}{path}", json={"part": int(BIG)}, timeout=10)
        assert (r.status_code, r.json()) == (400, {"part": [
            f'Invalid pk "{BIG}" - object does not exist.']}), path
    r = admin.post(f"{base}/api/project-code/", json={"code": "BIGR", "responsible": int(BIG)},
                   timeout=10)
    assert (r.status_code, r.json()) == (400, {"responsible": [
        f'Invalid pk "{BIG}" - object does not exist.']})
    r = admin.post(f"{base}/api/user/", timeout=10, json={
        "username": "biggroups", "groups": [BIG], "password": "Secret-9x-huge",
        "first_name": "", "last_name": "", "email": ""})
    assert (r.status_code, r.json()) == (400, {"groups": [
        f'Invalid pk "{BIG}" - object does not exist.']})


def test_bulk_delete_with_huge_numbers_deletes_nothing(admin):
    for body in ({"items": [int(BIG)]}, {"filters": {"model_id": BIG}},
                 {"filters": {"upload_user": int(BIG)}}):
        r = admin.delete(f"{admin.base}/api/attachment/", json=body, timeout=10)
        assert r.status_code == 400 and r.json() == {
            "non_field_errors": "No items found to delete"}, (body, r.text)
    r = admin.delete(f"{admin.base}/api/attachment/", json={"filters": {"model_id": "x"}},
                     timeout=10)
    assert (r.status_code, r.json()) == (400, {"non_field_errors": "Invalid filters provided"})


def test_a_4301_digit_range_is_ignored_or_unsatisfiable(admin):
    body = b"0123456789" * 10
    made = admin.post(f"{admin.base}/api/attachment/", data={"model_type": "part",
                                                             "model_id": "1"},
                      files={"attachment": ("range.txt", body)}, timeout=10).json()
    url = admin.base + made["attachment"]
    assert admin.get(url, headers={"Range": f"bytes={DIGITS_4301}-"},
                     timeout=10).status_code == 416
    whole = admin.get(url, headers={"Range": f"bytes=0-{DIGITS_4301}"}, timeout=10)
    assert whole.status_code == 206 and whole.content == body
    tail = admin.get(url, headers={"Range": f"bytes=-{DIGITS_4301}"}, timeout=10)
    assert tail.status_code == 206 and tail.content == body


def _chunked(data: bytes):
    yield data


def test_chunked_multipart_is_411(admin):
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\n'
            f'admin\r\n--{boundary}--\r\n').encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for session, path in ((requests, "/api/auth/login/"), (admin, "/api/attachment/"),
                          (requests, "/api/email/generate/")):
        r = session.post(f"{admin.base}{path}", data=_chunked(body), headers=headers,
                         timeout=10)
        assert r.status_code == 411, (path, r.text)
        assert "Content-Length" in r.json()["detail"]


def test_the_event_log_is_always_paged(admin):
    for query in ("", "?limit=0", "?limit="):
        r = admin.get(f"{admin.base}/api/events/{query}", timeout=10)
        page = r.json()
        assert set(page) == {"count", "next", "previous", "results"}, query
        assert len(page["results"]) <= 100
    assert admin.get(f"{admin.base}/api/events/?limit=1001", timeout=10).json() == {
        "limit": ["Ensure this value is less than or equal to 1000."]}
    page = admin.get(f"{admin.base}/api/events/?limit=1", timeout=10).json()
    if page["count"] > 1:
        assert "limit=1" in page["next"] and "offset=1" in page["next"]


def test_an_unpaged_list_says_how_many_rows_matched(admin):
    for code in ("CNT1", "CNT2"):
        admin.post(f"{admin.base}/api/project-code/", json={"code": code}, timeout=10)
    r = admin.get(f"{admin.base}/api/project-code/?search=CNT", timeout=10)
    assert [c["code"] for c in r.json()] == ["CNT1", "CNT2"]
    assert r.headers["X-Total-Count"] == "2" and "X-Truncated" not in r.headers


def test_searches_are_bounded(admin):
    for path in ("/api/project-code/", "/api/attachment/", "/api/contenttype/",
                 "/api/user/owner/", "/api/events/"):
        r = admin.get(f"{admin.base}{path}", params={"search": " ".join(["a"] * 21)}, timeout=10)
        assert (r.status_code, r.json()) == (400, {"search": [
            "Ensure this search has no more than 20 terms."]}), path
        r = admin.get(f"{admin.base}{path}", params={"search": "x" * 201}, timeout=10)
        assert (r.status_code, r.json()) == (400, {"search": [
            "Ensure this field has no more than 200 characters."]}), path
        r = admin.get(f"{admin.base}{path}", params={"search": " ".join(["a"] * 20)}, timeout=10)
        assert r.status_code == 200, (path, r.text)


def test_a_custom_state_model_filter_that_is_no_pk_is_refused(admin):
    for value in ("abc", BIG):
        r = admin.get(f"{admin.base}/api/generic/status/custom/", params={"model": value},
                      timeout=10)
        assert (r.status_code, r.json()) == (400, {"model": [
            "Select a valid choice. That choice is not one of the available choices."]}), value


def test_null_characters_are_removed_from_queries_and_json(admin):
    """PostgreSQL can neither compare nor store text holding them (a 500 there)."""
    made = admin.post(f"{admin.base}/api/attachment/", timeout=10, json={
        "model_type": "part", "model_id": 7, "link": "https://example.com/nul",
        "tags": ["n\u0000ul"]}).json()
    assert made["tags"] == ["nul"]
    r = admin.get(f"{admin.base}/api/attachment/", params={"model_type": "pa\x00rt",
                                                           "model_id": "7"}, timeout=10)
    assert [a["pk"] for a in r.json()] == [made["pk"]]
    r = admin.patch(f"{admin.base}/api/attachment/{made['pk']}/metadata/", timeout=10,
                    json={"metadata": {"k\u0000": ["v\u0000"]}})
    assert r.json()["metadata"] == {"k": ["v"]}
