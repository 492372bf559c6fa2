"""The test suite's own plumbing (tests/conftest.py)."""
import socket
import threading

from tests.conftest import management_client

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_management_client_retries_on_a_connection_the_server_dropped():
    """A keep-alive connection the server closes as the next request arrives (as RabbitMQ's
    management API does with idle ones) is retried on a fresh connection."""
    server = socket.create_server(("127.0.0.1", 0))
    answered = []

    def serve(conn):
        with conn:
            conn.recv(65536)
            conn.sendall(OK)  # keep-alive: the client will send its next request here
            answered.append(1)
            conn.recv(65536)  # and this one is dropped unanswered

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        client = management_client(f"http://guest:guest@127.0.0.1:{server.getsockname()[1]}")
        assert client._get("vhosts") == {}
        assert client._request("DELETE", "vhosts", "gone") == {}
    finally:
        server.close()
    assert len(answered) == 3  # the check on creating the client, the GET, the DELETE retried
