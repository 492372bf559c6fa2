"""A Frankfurter-shaped exchange-rate server on loopback, for tests (the real one is on the
internet, which tests may not reach)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RATES = {"AUD": 1.5, "CAD": 1.35, "CNY": 7.1, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0,
         "NZD": 1.6}


class RatesServer:
    def __init__(self):
        self.fail = False
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if server.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                query = parse_qs(urlparse(self.path).query)
                wanted = query.get("to", [""])[0].split(",")
                body = json.dumps({"amount": 1.0, "base": query.get("from", ["USD"])[0],
                                   "rates": {k: v for k, v in RATES.items() if k in wanted}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # `shutdown` waits for the loop's next poll: every 50 ms, not the default 0.5 s
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
