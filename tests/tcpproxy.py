"""A TCP proxy in a process of its own, to take a server away from the processes that use
it and give it back: `cut()` kills the proxy (every connection through it breaks, new ones
are refused, as when the server's machine goes away), `start()` listens again on the same
port; `freeze()` makes every connection through it silent without breaking it, `thaw()`
lets it speak again. Tests point a process's AMQP_URI at it to lose "the broker" without
stopping the machine's RabbitMQ, which other tests share.

`python -m tests.tcpproxy <listen port> <target host:port>` runs the proxy itself."""
import signal
import socket
import subprocess
import sys
import threading
import time


class Proxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = f"{target_host}:{target_port}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.tcpproxy", str(self.port),
                                      self.target])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def freeze(self):
        """Stop forwarding without closing anything (SIGSTOP): every connection through it
        goes silent, as when the server's host or the network between goes away."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def cut(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen one too
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def proxied(amqp_uri: str) -> tuple[Proxy, str]:
    """A started proxy to the broker of `amqp_uri` (one node), and the URI through it."""
    from urllib.parse import urlsplit
    parts = urlsplit(amqp_uri)
    proxy = Proxy(parts.port or 5672, parts.hostname or "127.0.0.1")
    proxy.start()
    return proxy, parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:"
                                        f"{proxy.port}").geturl()


def _pipe(src: socket.socket, dst: socket.socket):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(port: int, target: str):
    host, _, target_port = target.rpartition(":")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection((host, int(target_port)), timeout=5)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
