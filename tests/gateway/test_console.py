"""The console's built files at /console/ (gateway/console.py), in-process over a build
directory made here: caching and ETags, gzip, the single-page fallback, 404s, the console's
own CSP with the other security headers, and no way out of the directory."""
import gzip
import os

import pytest

from gateway.console import CONTENT_SECURITY_POLICY, IMMUTABLE
from gateway.headers import SECURITY_HEADERS
from tests.gateway.fakerpc import FakeRpc, make_app, request

INDEX = b'<!doctype html><html><head><script type="module" src="/console/assets/index-abc123.js">' \
        b"</script></head><body><div id=app></div></body></html>"
SCRIPT = b"console.log('the console');\n" * 200


@pytest.fixture
def built(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (dist / "assets" / "logo-def456.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the build")
    os.symlink(secret, dist / "assets" / "link.txt")
    return dist


@pytest.fixture
def app(built, tmp_path):
    return make_app(FakeRpc(), tmp_path / "media", CONSOLE_DIR=str(built))


def get(app, path, **headers):
    return request(app, "GET", path, headers=headers, auth=False)


def test_hashed_assets_are_immutable_with_an_etag_and_answer_304(app):
    r = get(app, "/console/assets/index-abc123.js")
    assert r.status == 200 and r.body == SCRIPT
    assert r.headers["content-type"] == "application/javascript"
    assert r.headers["cache-control"] == IMMUTABLE
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = get(app, "/console/assets/index-abc123.js", **{"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert get(app, "/console/assets/index-abc123.js",
               **{"If-None-Match": f'"other", W/{etag}'}).status == 304
    assert get(app, "/console/assets/index-abc123.js",
               **{"If-None-Match": '"other"'}).status == 200


def test_text_is_gzipped_for_clients_that_accept_it(app):
    r = get(app, "/console/assets/index-abc123.js", **{"Accept-Encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(r.body) == SCRIPT and len(r.body) < len(SCRIPT) / 10
    plain_etag = get(app, "/console/assets/index-abc123.js").headers["etag"]
    assert r.headers["etag"] != plain_etag  # another representation, another tag
    png = get(app, "/console/assets/logo-def456.png", **{"Accept-Encoding": "gzip"})
    assert png.headers["content-type"] == "image/png" and "content-encoding" not in png.headers


@pytest.mark.parametrize("path", ["/console/", "/console/imports", "/console/imports/12",
                                  "/console/sign-in"])
def test_index_and_every_page_of_the_app_answer_index_html_not_cached(app, path):
    r = get(app, path)
    assert r.status == 200 and r.body == INDEX
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]


def test_the_console_has_its_own_csp_and_the_other_security_headers(app):
    for path in ("/console/", "/console/assets/index-abc123.js", "/console/assets/nope.js"):
        r = get(app, path)
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        for name, value in SECURITY_HEADERS:
            if name != "Content-Security-Policy":
                assert r.headers[name.lower()] == value
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    api = request(app, "GET", "/api/nope/", auth=False)  # the API keeps its own
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_missing_assets_are_404_not_the_page(app):
    for path in ("/console/assets/index-zzz.js", "/console/favicon.ico", "/console/assets/x"):
        r = get(app, path)
        assert r.status == 404 and r.json == {"detail": "Not found."}, path


@pytest.mark.parametrize("path", [
    "/console/../secret.txt", "/console/assets/../../secret.txt", "/console/%2e%2e/secret.txt",
    "/console/assets/%2e%2e%2f%2e%2e%2fsecret.txt", "/console/assets/..%2f..%2fsecret.txt",
    "/console//etc/passwd", "/console/assets/link.txt", "/console/%2fetc%2fpasswd",
    "/console/assets/..\\..\\secret.txt"])
def test_nothing_outside_the_build_is_served(app, path):
    r = get(app, path)
    assert b"outside the build" not in r.body and b"root:" not in r.body
    assert r.status in (404, 200)
    if r.status == 200:  # a page of the app, never a file
        assert r.body == INDEX


def test_a_rebuild_is_served_without_a_restart(app, built):
    first = get(app, "/console/").headers["etag"]
    (built / "index.html").write_bytes(INDEX.replace(b"abc123", b"fff999"))
    os.utime(built / "index.html", ns=(1, 1))  # another mtime, whatever the clock's grain
    r = get(app, "/console/")
    assert r.headers["etag"] != first and b"fff999" in r.body


def test_unbuilt_console_says_how_to_build_it(tmp_path):
    app = make_app(FakeRpc(), tmp_path / "media", CONSOLE_DIR=str(tmp_path / "none"))
    r = get(app, "/console/")
    assert r.status == 404 and "make run" in r.json["detail"]


def test_root_and_bare_console_redirect_to_the_console(app):
    for path in ("/", "/console"):
        r = get(app, path)
        assert r.status == 302 and r.headers["location"] == "/console/"


def test_head_answers_headers_only(app):
    r = request(app, "HEAD", "/console/assets/index-abc123.js", auth=False)
    assert r.status == 200 and r.headers["cache-control"] == IMMUTABLE
