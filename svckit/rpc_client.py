"""RPC client for processes outside nameko (the gateway, probes, CLI tools).

One client per thread (nameko's standalone proxy is not thread-safe), created lazily so a
forked gunicorn worker makes its own connection; every call has a timeout (the client's, or
one given for that call), and a client that timed out is replaced (a late reply must not be
read as the answer to the next call).
"""
import threading

from nameko.constants import NON_PERSISTENT
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy

import svckit.service  # noqa: F401  (registers the error classes for re-raising)
from svckit.context import Caller
from svckit.errors import ApiError, ServiceUnavailable


class RemoteFailure(Exception):
    """A service raised an unexpected exception (the gateway answers 500)."""

    def __init__(self, service, method, exc_type, value):
        self.service, self.method, self.exc_type, self.value = service, method, exc_type, value
        super().__init__(f"{service}.{method}: {exc_type}: {value}")


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self._context: dict = {}
        self._proxy = None
        self._services: dict = {}

    def _connect(self):
        self._proxy = ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, context_data=self._context,
                                      timeout=self.timeout)
        self._proxy.start()

    def _service(self, name: str):
        """A proxy whose requests are transient: a request is worth nothing after its
        timeout, so the broker need not write it to disk (a third of the round trip)."""
        if name not in self._services:
            self._services[name] = ServiceProxy(
                self._proxy._worker_ctx, name, self._proxy._reply_listener,
                delivery_mode=NON_PERSISTENT)
        return self._services[name]

    def close(self):
        if self._proxy is not None:
            try:
                self._proxy.stop()
            except Exception:  # the connection may already be broken; drop it either way
                pass
        self._proxy = None
        self._services = {}

    def call(self, service: str, method: str, caller: Caller | None = None, path: str = "",
             timeout: float | None = None, **kwargs):
        """`service.method(**kwargs)` as `caller`; `timeout` (seconds) overrides the client's
        for this call only (a long import, say)."""
        if self._proxy is None:
            try:
                self._connect()
            except Exception as exc:
                self.close()
                raise ServiceUnavailable({"detail": f"Message broker unavailable: {exc}"})
        self._context.clear()
        self._context["caller"] = (caller or Caller()).model_dump_json()
        if path:
            self._context["path"] = path
        wait = self.timeout if timeout is None else timeout
        consumer = self._proxy._reply_listener.queue_consumer  # waits `timeout` for a reply
        consumer.timeout = wait
        try:
            return getattr(self._service(service), method)(**kwargs)
        except ApiError:
            raise
        except RpcTimeout:
            self.close()
            raise ServiceUnavailable(
                {"detail": f"The {service} service did not answer within {wait:g} s"})
        except UnknownService:
            raise ServiceUnavailable({"detail": f"The {service} service is not running"})
        except RemoteError as exc:
            raise RemoteFailure(service, method, exc.exc_type, exc.value)
        except (OSError, ConnectionError) as exc:
            self.close()
            raise ServiceUnavailable({"detail": f"Message broker unavailable: {exc}"})
        finally:
            consumer.timeout = self.timeout


class ThreadLocalRpc:
    """Hands each thread its own RpcClient."""

    def __init__(self, amqp_uri: str, timeout: float):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self._local = threading.local()

    def client(self) -> RpcClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = RpcClient(self.amqp_uri, self.timeout)
        return client

    def call(self, service, method, caller=None, path="", timeout=None, **kwargs):
        return self.client().call(service, method, caller, path, timeout, **kwargs)
