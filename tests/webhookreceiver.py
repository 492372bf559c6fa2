"""A webhook receiver on loopback, for tests and bench/webhooks.py: it checks each
delivery's signature (svckit.webhook_signature) and timestamp as a real receiver would,
answers 503 to the first `fail_first` requests, sleeps `delay` seconds before answering
while `delay` is set (a slow receiver), and keeps what it accepted by delivery id."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from svckit import webhook_signature


class WebhookReceiver:
    def __init__(self, secret: str = "", fail_first: int = 0, delay: float = 0.0):
        self.secret = secret
        self.fail_first = fail_first
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = 0
        self.bad_signatures = 0
        self.attempts: list[str] = []  # delivery ids, every request
        self.accepted: dict[str, dict] = {}  # delivery id -> event (deduplicated)
        self.accepted_times: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.handle(self, body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, request, body: bytes):
        delivery = request.headers.get(webhook_signature.ID_HEADER, "")
        with self.lock:
            self.requests += 1
            self.attempts.append(delivery)
            failing = self.requests <= self.fail_first
            valid = bool(self.secret) and webhook_signature.verify(self.secret, request.headers,
                                                                   body)
            if not valid:
                self.bad_signatures += 1
        if self.delay:
            time.sleep(self.delay)
        if not valid:
            return self._answer(request, 401)
        if failing:
            return self._answer(request, 503)
        with self.lock:
            if delivery not in self.accepted:
                self.accepted[delivery] = json.loads(body)
                self.accepted_times.append(time.monotonic())
        self._answer(request, 204)

    @staticmethod
    def _answer(request, status: int):
        try:
            request.send_response(status)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:  # the sender cut the slow answer off
            pass

    def event_ids(self) -> list[str]:
        with self.lock:
            return [event["id"] for event in self.accepted.values()]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
