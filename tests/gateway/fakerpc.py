"""An in-process gateway with no broker: `create_app(settings, rpc=FakeRpc(...), bus=FakeBus())`.

`FakeRpc` records each call (service, method, keyword arguments) and answers from canned
answers by method name: a value, an exception to raise (an `ApiError` as a service would,
or a `RemoteFailure`), or a function of the call's keyword arguments."""
import json
from dataclasses import dataclass, field

from falcon import testing

from gateway.app import create_app
from gateway.settings import GatewaySettings

TOKEN = {"Authorization": "Token t"}
SUPERUSER = {"user_id": 1, "username": "root", "is_staff": True, "is_superuser": True}
PLAIN = {"user_id": 2, "username": "plain"}


class FakeBus:
    """No event listener: `healthy` False, so every gateway read model asks the service."""
    healthy = False

    def subscribe(self, *args):
        pass

    def start(self):
        pass

    def wait_connected(self, timeout: float) -> bool:
        return self.healthy

    def publish(self, *args, **kwargs):
        pass


class FakeRpc:
    def __init__(self, answers: dict | None = None, caller: dict | None = None):
        self.answers = dict(answers or {})
        self.caller = caller or SUPERUSER
        self.calls: list[tuple[str, str, dict]] = []

    @staticmethod
    def default(method: str):
        """Without a canned answer: an empty list for lists, 0 deleted, else a small dict."""
        if method.startswith("list_"):
            return {"results": []}
        return 0 if method.startswith("bulk_delete_") else {"answer": method}

    def call(self, service, method, caller=None, path="", **kwargs):
        if method == "authenticate_token":  # who `Authorization: Token t` is
            return {"caller": self.caller, "token_id": 1, "expiry": "9999-12-31"}
        self.calls.append((service, method, kwargs))
        answer = self.answers.get(method, self.default(method))
        if isinstance(answer, Exception):
            raise answer
        return answer(**kwargs) if callable(answer) else answer


@dataclass
class Result:
    status: int
    headers: dict
    body: bytes
    cookies: list = field(default_factory=list)

    @property
    def json(self):
        return json.loads(self.body)


def make_app(rpc: FakeRpc, media_root, **settings):
    """The gateway with `settings` (GatewaySettings' fields) over `rpc`, its uploads kept
    in a local store at `media_root`."""
    return create_app(GatewaySettings(MEDIA_STORAGE="local", MEDIA_ROOT=str(media_root),
                                      **settings), rpc=rpc, bus=FakeBus())


def request(app, method: str, url: str, json_body=None, headers=None, body: bytes | None = None,
            auth=True) -> Result:
    """One request through the WSGI app (without falcon's validator, which refuses
    InvenTree's body on a 204)."""
    path, _, query = url.partition("?")
    sent = dict(TOKEN if auth else {})
    if json_body is not None:
        sent["Content-Type"] = "application/json"
        body = json.dumps(json_body).encode()
    sent.update(headers or {})
    env = testing.create_environ(method=method, path=path, query_string=query,
                                 body=body or b"", headers=sent)
    start = testing.StartResponseMock()
    data = b"".join(app(env, start))
    headers = {}
    cookies = []
    for name, value in start.headers:
        if name.lower() == "set-cookie":
            cookies.append(value)
        headers[name.lower()] = value
    return Result(int(start.status.split()[0]), headers, data, cookies)
