"""Security headers on every answer of the gateway, through real gunicorn (gateway.headers)."""
import socket
from urllib.parse import urlparse

import requests

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "same-origin",
                    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox"}


def test_security_headers_on_every_answer_and_no_server_header(stack, admin):
    made = admin.post(f"{stack.url}/api/attachment/", timeout=10,
                      data={"model_type": "part", "model_id": 1},
                      files={"attachment": ("page.html", b"<script>alert(1)</script>")}).json()
    answers = [requests.get(f"{stack.url}/api/", timeout=10),                      # 200
               requests.get(f"{stack.url}/api/user/me/", timeout=10),              # 401
               admin.get(f"{stack.url}/api/nope/", timeout=10),                    # 404
               admin.get(f"{stack.url}/elsewhere", timeout=10),                    # 404
               admin.delete(f"{stack.url}/api/", timeout=10),                      # 405
               requests.post(f"{stack.url}/api/webhook/unknown/", timeout=10),     # 404
               admin.get(stack.url + made["attachment"], timeout=10),              # 200 file
               admin.head(stack.url + made["attachment"], timeout=10),
               requests.get(stack.url + made["attachment"], timeout=10)]           # 401 text
    for r in answers:
        assert {k: r.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS, r.url
        assert "Server" not in r.headers, (r.url, r.headers.get("Server"))
    assert answers[6].headers["Content-Disposition"].startswith("attachment;")


def test_gunicorns_own_error_page_has_the_headers(stack):
    # a gateway itself: behind a cluster's HAProxy, HAProxy answers a request it cannot parse
    host = urlparse("http://" + next(iter(stack.gateway_binds.values())))
    with socket.create_connection((host.hostname, host.port), timeout=10) as s:
        s.sendall(b"GET /api/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin1")
    assert head.startswith("HTTP/1.1 400 ")
    lines = head.split("\r\n")[1:]
    for name, value in SECURITY_HEADERS.items():
        assert f"{name}: {value}" in lines
    assert not any(line.lower().startswith("server:") for line in lines)


def test_console_pages_have_their_own_policy_and_the_other_headers(stack):
    """The console (gateway/console.py, built by `make test`) through real gunicorn: its own
    CSP, the other headers, a long-lived hashed asset, and a 304 for a known ETag."""
    from gateway.console import CONTENT_SECURITY_POLICY, IMMUTABLE
    page = requests.get(f"{stack.url}/console/imports", timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-cache"
    script = page.text.split('src="', 1)[1].split('"', 1)[0]
    assert script.startswith("/console/assets/")
    asset = requests.get(stack.url + script, timeout=10)
    assert asset.status_code == 200 and asset.headers["Cache-Control"] == IMMUTABLE
    assert asset.headers["Content-Encoding"] == "gzip"  # requests asks for it
    again = requests.get(stack.url + script, timeout=10,
                         headers={"If-None-Match": asset.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    for r in (page, asset, again):
        expected = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
        assert {k: r.headers.get(k) for k in expected} == expected, r.url
        assert "Server" not in r.headers
