"""svckit.outbound against real loopback servers: a redirect is an answer, never followed;
a receiver that does not answer in time is cut off; a host that resolves to a refused
address is not connected to."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from svckit import outbound


@pytest.fixture
def server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, self.headers.get("Host")))
            if self.path == "/slow":
                time.sleep(1.5)
            self.send_response(302 if self.path == "/moved" else 200)
            if self.path == "/moved":
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            try:
                self.wfile.write(b"ok")
            except OSError:
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def send(url, timeout=5.0, allow_private=True):
    return outbound.post(outbound.parse_target(url, ["*"]), b"{}", {"Webhook-Id": "1"},
                         timeout, allow_private)


def test_an_answer_and_the_host_header(server):
    base, seen = server
    answer = send(f"{base}/hook?x=1")
    assert answer.status == 200 and answer.body == "ok" and answer.error == ""
    assert seen == [("/hook?x=1", base.removeprefix("http://"))]


def test_redirects_are_not_followed(server):
    base, seen = server
    assert send(f"{base}/moved").status == 302
    assert [path for path, _ in seen] == ["/moved"]


def test_a_slow_receiver_is_cut_off(server):
    base, _ = server
    began = time.monotonic()
    answer = send(f"{base}/slow", timeout=0.3)
    assert answer.status is None and "no answer within 0.3 s" in answer.error
    assert time.monotonic() - began < 1.2


def test_refused_addresses_are_not_connected_to(server):
    base, seen = server
    answer = send(f"{base}/hook", allow_private=False)
    assert answer.status is None and "WEBHOOK_ALLOW_PRIVATE" in answer.error and seen == []
    refused = outbound.post(outbound.parse_target(base.replace("127.0.0.1", "localhost"),
                                                  ["*"]), b"{}", {}, 1, False)
    assert refused.status is None and seen == []


def test_a_closed_port_is_an_error_not_an_exception():
    answer = send("http://127.0.0.1:9/")
    assert answer.status is None and answer.error
