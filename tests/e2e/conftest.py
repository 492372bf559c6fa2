"""The whole system as processes (gunicorn with 2 workers, every nameko service) on its own
port, RabbitMQ vhost and data directory, so a running `make run` is not disturbed.

With `E2E_TOPOLOGY=cluster` (`make test-e2e-cluster`) every stack is `make cluster`'s topology
instead (svckit.cluster: 3 RabbitMQ nodes, PostgreSQL, 2 replicas of every service, 2 gateways
behind HAProxy) on ports of its own, so the same tests prove the load-balanced shape."""
import os
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from svckit.stack import Stack

MANAGEMENT = "http://127.0.0.1:15672/api"
TOPOLOGY = os.environ.get("E2E_TOPOLOGY", "stack")  # or "cluster"
ADMIN = ("admin", "admin-pass-123")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def own_vhost():
    """A fresh RabbitMQ vhost (a stack's RPC queues and events are its own)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    auth = ("guest", "guest")
    requests.put(f"{MANAGEMENT}/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{name}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    try:
        yield name
    finally:
        requests.delete(f"{MANAGEMENT}/vhosts/{name}", auth=auth, timeout=10)


@pytest.fixture(scope="session")
def vhost():
    with own_vhost() as name:
        yield name


@pytest.fixture(scope="session")
def rates_server():
    from tests.ratesserver import RatesServer
    server = RatesServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def smtp(tmp_path_factory):
    """A real SMTP server on loopback (aiosmtpd, its own process) delivering to a maildir."""
    import mailbox
    import subprocess
    import sys
    import time
    maildir = tmp_path_factory.mktemp("mail") / "box"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                             "-c", "aiosmtpd.handlers.Mailbox", str(maildir)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    proc.port = port
    proc.messages = lambda: [mailbox.Maildir(str(maildir))[k] for k in
                             sorted(mailbox.Maildir(str(maildir)).keys())] if maildir.exists() else []
    yield proc
    proc.terminate()
    proc.wait()


@contextmanager
def running_stack(data, vhost, rates_server, smtp, process_env=None, topology=None,
                  **overrides):
    """Every process of the system, on its own port, vhost and data directory
    (`process_env`: settings of one process only, see svckit.stack.Stack), as a stack or a
    cluster (`topology`, default E2E_TOPOLOGY)."""
    env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
           "INVENTREE_DATA_DIR": str(data), "INVENTREE_ADMIN_USER": ADMIN[0],
           "INVENTREE_ADMIN_PASSWORD": ADMIN[1], "INVENTREE_ADMIN_EMAIL": "admin@example.com",
           "PASSWORD_ITERATIONS": "1000", "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "4",
           "RPC_TIMEOUT": "10", "LOG_LEVEL": "WARNING",
           "CURRENCY_API_URL": rates_server.url, "CURRENCY_UPDATE_INTERVAL": "0",
           "NEWS_FEED_INTERVAL": "0", "INVENTREE_EMAIL_HOST": "127.0.0.1",
           "INVENTREE_EMAIL_PORT": str(smtp.port), "LOGIN_THROTTLE_ATTEMPTS": "50",
           # every test calls from 127.0.0.1: failures of all tests must not add up to a lock
           "LOGIN_THROTTLE_ADDRESS_ATTEMPTS": "5000", "LOGIN_THROTTLE_NAME_ATTEMPTS": "5000",
           "INVENTREE_ALLOWED_HOSTS": "127.0.0.1",
           "ATTACHMENT_MAX_BYTES": str(2 * 1024 * 1024),
           "NOTES_IMAGE_MAX_BYTES": str(256 * 1024),
           "EVENTS_STREAM_HEARTBEAT": "1",  # live-feed listeners see a line every second
           # webhook receivers of the tests listen on loopback; retries and parking quick
           "WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_TIMEOUT_SECONDS": "1",
           "WEBHOOK_BACKOFF_BASE_SECONDS": "0.2", "WEBHOOK_BACKOFF_MAX_SECONDS": "1",
           "WEBHOOK_RETRY_FOR_SECONDS": "4", "WEBHOOK_POLL_SECONDS": "0.05", **overrides}
    if (topology or TOPOLOGY) == "cluster":
        with running_cluster(data, env, process_env) as s:
            yield s
        return
    log = open(data / "stack.log", "w")
    s = Stack(env, bind=f"127.0.0.1:{free_port()}", log=log, process_env=process_env)
    s.data_dir = data
    s.run_tool("-m", "svckit.migrate")
    s.run_tool("-m", "services.users.cli", "ensure-admin")
    try:
        s.start()
        yield s
    finally:
        s.stop()
        log.close()


class ClusterStack:
    """A cluster seen as a stack: its processes (`stack.procs`, `kill`, `restart_dead`, `env`,
    `run_tool`) with the load balancer's `url`."""

    def __init__(self, cluster, data):
        self.cluster = cluster
        self.data_dir = data

    def __getattr__(self, name):
        return getattr(self.cluster.stack, name)

    @property
    def url(self) -> str:
        return self.cluster.url


@contextmanager
def running_cluster(data, env, process_env=None):
    """`make cluster`'s topology with the stack's settings (less the broker and the worker
    count, which are the cluster's own). Its directory is under the work tree: PostgreSQL
    runs as its own user and must reach its data directory."""
    from svckit.cluster import Cluster, Ports
    from svckit.layout import ROOT
    env = {k: v for k, v in env.items() if k not in ("AMQP_URI", "GATEWAY_WORKERS")}
    directory = ROOT / "var" / "test" / f"e2e-cluster-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(directory, Ports.free(), node_prefix=f"e{uuid.uuid4().hex[:6]}n",
                      env=env, process_env=process_env)
    try:
        cluster.start()
        cluster.stack.run_tool("-m", "services.users.cli", "ensure-admin")
        yield ClusterStack(cluster, Path(env["INVENTREE_DATA_DIR"]))
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def stack(vhost, rates_server, smtp, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack"), vhost, rates_server, smtp) as s:
        yield s


def eventually(check, seconds: float = 10.0) -> bool:
    """True once `check()` is true, asked every 50 ms for up to `seconds`. For what reaches
    every gateway worker (a cluster's every gateway) by an event: a revoked token, an ended
    session, a changed read model (README: gateway caches)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def token_session(stack, credentials) -> requests.Session:
    token = requests.get(f"{stack.url}/api/user/token/", auth=credentials, timeout=10).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    session.base = stack.url
    session.credentials = credentials
    return session


@pytest.fixture(scope="session")
def admin(stack):
    """A requests session authenticated with the superuser's token."""
    return token_session(stack, ADMIN)


@pytest.fixture(scope="session")
def make_user(stack, admin):
    """Create a user through the API (a group carrying the roles, membership through the
    user's `groups`); returns a token-authenticated session for it."""
    def make(username, *roles, staff=False):
        password = f"Secret-9x-{uuid.uuid4().hex[:8]}"
        groups = []
        if roles:
            wanted = {}
            for spec in roles:
                role, _, perm = spec.partition(":")
                wanted.setdefault(role, []).append(perm or "view")
            r = admin.post(f"{stack.url}/api/user/group/", timeout=10,
                           json={"name": f"{username}-roles", "roles": wanted})
            assert r.status_code == 201, r.text
            groups.append(r.json()["pk"])
        r = admin.post(f"{stack.url}/api/user/", timeout=10, json={
            "username": username, "first_name": "", "last_name": "", "email": "",
            "password": password, "is_staff": staff, "groups": groups})
        assert r.status_code == 201, r.text
        return token_session(stack, (username, password))
    return make
