"""Every process as its own RabbitMQ user, with exactly the permissions deploy/k8s gives it
(created on the real local broker through the management API, in a vhost of their own): the
whole system works, and one process's credentials can neither read another's queues, nor
publish its events, nor bind to calls meant for another service."""
import time
import uuid

import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection, Producer, Queue

from svckit.relay import event_exchange
from svckit.rpc_client import RPC_EXCHANGE
from tests.deploy.test_manifests import broker_resources, deployments, manifests
from tests.e2e.conftest import ADMIN, MANAGEMENT, running_stack, token_session

GUEST = ("guest", "guest")


@pytest.fixture(scope="module")
def broker_users():
    """process name -> AMQP URI of its own user, with the manifests' permissions."""
    vhost = f"perm-{uuid.uuid4().hex[:8]}"
    docs = manifests()[1]
    permissions = broker_resources(docs, "Permission")
    topics = broker_resources(docs, "TopicPermission")
    requests.put(f"{MANAGEMENT}/vhosts/{vhost}", auth=GUEST, timeout=10).raise_for_status()
    uris, users = {}, []
    try:
        for name in deployments(docs):
            user, password = f"{vhost}-{name}", uuid.uuid4().hex
            users.append(user)
            requests.put(f"{MANAGEMENT}/users/{user}", auth=GUEST, timeout=10,
                         json={"password": password, "tags": ""}).raise_for_status()
            requests.put(f"{MANAGEMENT}/permissions/{vhost}/{user}", auth=GUEST, timeout=10,
                         json=permissions[f"inventree-{name}"]["spec"]["permissions"]
                         ).raise_for_status()
            requests.put(f"{MANAGEMENT}/topic-permissions/{vhost}/{user}", auth=GUEST,
                         timeout=10, json=topics[f"inventree-{name}"]["spec"]["permissions"]
                         ).raise_for_status()
            uris[name] = f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}"
        yield uris
    finally:
        requests.delete(f"{MANAGEMENT}/vhosts/{vhost}", auth=GUEST, timeout=10)
        for user in users:
            requests.delete(f"{MANAGEMENT}/users/{user}", auth=GUEST, timeout=10)


@pytest.fixture(scope="module")
def own_users_stack(broker_users, rates_server, smtp, tmp_path_factory):
    # the users are made on the local broker, so this stack runs there in either topology
    with running_stack(tmp_path_factory.mktemp("own-users"), "unused", rates_server, smtp,
                       process_env={name: {"AMQP_URI": uri}
                                    for name, uri in broker_users.items()},
                       topology="stack", AMQP_URI=broker_users["gateway"]) as stack:
        yield stack


def poll(fetch, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.2)
    return fetch()


def test_every_process_works_as_its_own_user(own_users_stack):
    stack = own_users_stack
    admin = token_session(stack, ADMIN)  # gateway -> users
    base = stack.url
    model = admin.get(f"{base}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]
    r = admin.post(f"{base}/api/generic/status/custom/", timeout=10, json={  # -> status
        "key": 11, "name": "OK - advanced", "label": "OK (advanced)", "color": "secondary",
        "logical_key": 10, "model": model, "reference_status": "StockStatus"})
    assert r.status_code == 201, r.text
    owner = admin.get(f"{base}/api/user/owner/?search=admin", timeout=10).json()[0]
    r = admin.post(f"{base}/api/project-code/", timeout=10,  # -> system -> users
                   json={"code": "OWN-1", "responsible": owner["pk"]})
    assert r.status_code == 201 and r.json()["responsible_detail"] == owner, r.text
    r = admin.post(f"{base}/api/attachment/", timeout=10,  # -> attachments -> users
                   data={"model_type": "part", "model_id": "1", "comment": "own users"},
                   files={"attachment": ("note.txt", b"hello")})
    assert r.status_code == 201 and r.json()["user_detail"]["username"] == ADMIN[0], r.text
    r = admin.post(f"{base}/api/importer/session/", timeout=30,  # -> importer -> system
                   data={"model_type": "projectcode"},
                   files={"data_file": ("codes.csv", b"Project Code\nOWN-2\n")})
    assert r.status_code == 201, r.text
    pk = r.json()["pk"]
    admin.post(f"{base}/api/importer/session/{pk}/accept_fields/", timeout=10)
    assert poll(lambda: admin.get(f"{base}/api/importer/session/{pk}/", timeout=10)
                .json()["status"] == 30)
    rows = admin.get(f"{base}/api/importer/row/", params={"session": pk}, timeout=10).json()
    r = admin.post(f"{base}/api/importer/session/{pk}/accept_rows/", timeout=30,
                   json={"rows": [row["pk"] for row in rows]})
    assert r.status_code == 201, r.text
    assert poll(lambda: any(c["code"] == "OWN-2" for c in admin.get(
        f"{base}/api/project-code/", timeout=10).json()))
    # every service's events reach the audit service (and the gateway's error reports, system)
    for service in ("users", "status", "system", "attachments", "importer"):
        assert poll(lambda service=service: admin.get(
            f"{base}/api/events/", timeout=10, params={"service": service, "limit": 1}
        ).json()["count"]), service


def refused(action) -> bool:
    try:
        action()
    except AccessRefused:
        return True
    return False


def test_one_process_cannot_touch_anothers_queues_events_or_calls(own_users_stack,
                                                                  broker_users):
    def connection(name):
        return Connection(broker_users[name], transport_options={"confirm_publish": True})

    def read_queue(name, queue):
        with connection(name) as conn:
            Queue(queue)(conn.channel()).get()

    def publish(name, exchange, routing_key):
        with connection(name) as conn:
            Producer(conn.channel()).publish({}, exchange=exchange, routing_key=routing_key)

    def bind_own_rpc_queue(name, routing_key):
        with connection(name) as conn:
            Queue(f"rpc-{name}", exchange=RPC_EXCHANGE, routing_key=routing_key,
                  durable=True)(conn.channel()).declare()

    # another service's RPC queue, or audit's queue of status events
    assert refused(lambda: read_queue("attachments", "rpc-status"))
    assert refused(lambda: read_queue("gateway", "rpc-users"))
    assert refused(lambda: read_queue("system", "evt-status-#--audit.on_status_event"))
    # another service's events
    assert refused(lambda: publish("attachments", event_exchange("users"), "user.created"))
    assert refused(lambda: publish("gateway", event_exchange("status"), "custom_state.created"))
    # calls it does not make, or meant for another service
    assert refused(lambda: publish("status", RPC_EXCHANGE, "users.create_user"))
    assert refused(lambda: bind_own_rpc_queue("attachments", "users.*"))
    # what it does do is allowed (the unsigned ping is refused by the users service itself)
    publish("attachments", RPC_EXCHANGE, "users.ping")
    bind_own_rpc_queue("attachments", "attachments.*")
    read_queue("audit", "evt-status-#--audit.on_status_event")  # a message read is requeued
