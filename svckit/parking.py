"""Dead letters: a message that cannot be processed is parked, not retried forever.

Every durable queue `<queue>` that svckit consumes (a service's RPC request queue, its event
subscriptions) has a dead-letter queue `<queue>.dead` (durable, of the configured
`AMQP_QUEUE_TYPE`), bound to the one direct exchange `dead-letters` with the queue's name as
routing key. A message is parked there, once, logged once and counted (`parked_counts()`):

- when its body cannot be decoded (not JSON, a content type nobody accepts): at once;
- when its handler failed `AMQP_DELIVERY_LIMIT` times (default 5; the process's setting,
  which its consumers hand to their `Guard`): a failed attempt puts
  the message back at the end of its queue, with the attempts so far in the
  `x-svckit-attempts` header, after a short pause, so the messages behind it go on (through
  the service's own direct exchange `<service>.retry`, to which each of its durable queues
  is bound by its name, so a copy reaches that queue alone; an RPC request keeps its
  routing key, which names the method, in `x-svckit-routing-key`);
- when it was delivered that many times without an answer (the consumer crashed or lost
  its connection each time): quorum queues count these returns themselves
  (`x-delivery-count`); classic queues do not, so a redelivered message is put back at the
  end with its attempt counted before it is handled again. Both queue types behave alike.

A failure that says a dependency is down (`ServiceUnavailable`: the database, another
service) is not the message's fault: it is retried after a pause without being counted.
A parked message keeps its body, properties and headers, and says why it was parked, from
where, when, and how to send it back (`x-svckit-return-exchange` and `-routing-key`);
`python -m svckit.deadletters` lists, shows, requeues and purges them.
Nothing here needs a change to the queues' own arguments, so queues declared before keep
working.
"""
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timezone

from kombu import Connection, Exchange, Queue

from svckit.broker import connect, durable_queue_arguments
from svckit.errors import ServiceUnavailable
from svckit.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

EXCHANGE = "dead-letters"
ATTEMPTS = "x-svckit-attempts"  # failed attempts before this copy of the message
PARKED_FROM = "x-svckit-parked-from"  # the queue the message was parked from
REASON = "x-svckit-parked-reason"
PARKED_AT = "x-svckit-parked-at"
RETURN_EXCHANGE = "x-svckit-return-exchange"  # with the routing key below: back to its queue
RETURN_KEY = "x-svckit-return-routing-key"
ROUTING_KEY = "x-svckit-routing-key"  # the routing key the message first came with
PROPERTIES = ("content_type", "content_encoding", "correlation_id", "reply_to", "priority",
              "message_id", "timestamp", "type", "app_id", "expiration")
RETRY_PAUSE = 0.5  # seconds before the first retry of a failed message; doubles, at most 5

_counts: Counter = Counter()
_counts_lock = threading.Lock()


def dead_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def exchange() -> Exchange:
    return Exchange(EXCHANGE, type="direct", durable=True, delivery_mode=2)


def dead_queue(queue: str, queue_type: str) -> Queue:
    """`<queue>.dead`, of the process's AMQP_QUEUE_TYPE `queue_type`."""
    return Queue(dead_queue_name(queue), exchange=exchange(), routing_key=queue, durable=True,
                 auto_delete=False, queue_arguments=durable_queue_arguments(queue_type))


def retry_exchange_name(service: str) -> str:
    return f"{service}.retry"


def declare_dead(channel, queue: str, queue_type: str) -> None:
    """Declare the dead-letter exchange and `<queue>.dead` (of `queue_type`), bound to it."""
    dead_queue(queue, queue_type)(channel).declare()


def declare_retry(channel, queue: str, service: str) -> None:
    """Declare `<service>.retry` and bind `queue` (which must exist) to it by its name."""
    name = retry_exchange_name(service)
    channel.exchange_declare(name, "direct", durable=True, auto_delete=False)
    channel.queue_bind(queue, name, routing_key=queue)


def declare(channel, queue: str, service: str, queue_type: str) -> None:
    """What a consumer of the durable `queue` of `service` declares when it starts."""
    declare_dead(channel, queue, queue_type)
    declare_retry(channel, queue, service)


def parked_counts() -> dict[str, int]:
    """Messages this process parked, by queue."""
    with _counts_lock:
        return dict(_counts)


def attempts_before(message) -> int:
    """Attempts at this message that ended without success before this delivery: those
    counted in its header, and returns that the (quorum) queue counted since."""
    headers = message.headers or {}
    return count_in(headers.get(ATTEMPTS)) + count_in(headers.get("x-delivery-count"))


def count_in(value) -> int:
    """A header's count; 0 for one that is missing or not a count (anyone may send one)."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def retry_pause(attempts: int) -> float:
    return min(RETRY_PAUSE * 2 ** max(attempts - 1, 0), 5.0)


class Parking:
    """Parks and puts back the messages of one process's consumers, on a connection of its
    own with publisher confirms (so a message is acknowledged only once its copy is safe);
    the dead-letter queues it declares are of `queue_type` (the process's AMQP_QUEUE_TYPE)."""

    def __init__(self, amqp_uri: str, queue_type: str):
        self.amqp_uri = amqp_uri
        self.queue_type = queue_type
        self._conn: Connection | None = None
        self._producer = None
        self._declared: set[str] = set()
        self._lock = threading.Lock()

    def close(self):
        with self._lock:
            self._close()

    def _close(self):
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # a broken connection may fail to close; it is gone either way
                pass
        self._conn = self._producer = None
        self._declared.clear()

    def _publish(self, body: bytes, headers: dict, properties: dict, exchange_name: str,
                 routing_key: str, dead_of: str | None = None):
        with self._lock:
            for attempt in (1, 2):
                try:
                    producer = self._producer
                    if producer is None:
                        self._conn = connect(self.amqp_uri,
                                             transport_options={"confirm_publish": True})
                        producer = self._producer = self._conn.Producer()
                    if dead_of and dead_of not in self._declared:
                        declare_dead(producer.channel, dead_of, self.queue_type)
                        self._declared.add(dead_of)
                    producer.publish(body, exchange=exchange_name,
                                           routing_key=routing_key, headers=headers,
                                           delivery_mode=2, **properties)
                    return
                except Exception:
                    self._close()
                    if attempt == 2:
                        raise

    @staticmethod
    def _properties(message) -> dict:
        found = {name: message.properties.get(name) for name in PROPERTIES}
        found = {name: value for name, value in found.items() if value is not None}
        found.setdefault("content_type", "application/data")  # sent as it came, not encoded
        found.setdefault("content_encoding", "binary")
        return found

    @staticmethod
    def _headers(message) -> dict:
        headers = {k: v for k, v in (message.headers or {}).items() if k != "x-delivery-count"}
        headers.setdefault(ROUTING_KEY, (message.delivery_info or {}).get("routing_key", ""))
        return headers

    def put_back(self, message, attempts: int, exchange_name: str, routing_key: str):
        """Publish a copy of `message` (raw body, properties, headers) with `attempts` in its
        header to `exchange_name`/`routing_key`, which lead to its queue alone."""
        headers = self._headers(message)
        headers[ATTEMPTS] = attempts
        self._publish(message.body, headers, self._properties(message), exchange_name,
                      routing_key)

    def park(self, message, queue: str, reason: str, attempts: int, return_exchange: str,
             return_key: str):
        """Publish `message` to `<queue>.dead` with why it is there; log it and count it."""
        headers = self._headers(message)
        headers.update({ATTEMPTS: attempts, PARKED_FROM: queue, REASON: reason[:1000],
                        PARKED_AT: datetime.now(timezone.utc).isoformat(),
                        RETURN_EXCHANGE: return_exchange, RETURN_KEY: return_key})
        self._publish(message.body, headers, self._properties(message), EXCHANGE, queue,
                      dead_of=queue)
        with _counts_lock:
            _counts[queue] += 1
        DEAD_LETTERS.labels(queue).inc()
        log.error("parked a message of %s in %s after %d attempt(s): %s", queue,
                  dead_queue_name(queue), attempts, reason[:500])


class Guard:
    """The dead-letter rules of one durable queue, for its consumer: `admit` before a message
    is handled, `failed` after its handler raised, `undecodable` for a body that cannot be
    decoded. Each acknowledges (`ack(message)`) what it parked or put back. `limit` is the
    process's AMQP_DELIVERY_LIMIT; the queue is of the parking's queue type."""

    def __init__(self, parking: Parking, queue: str, service: str, ack, limit: int):
        self.parking = parking
        self.queue = queue
        self.service = service
        self.ack = ack
        self.limit = max(1, limit)
        self.classic = parking.queue_type == "classic"

    def declare(self, channel) -> None:
        """What this queue's consumer declares when it starts (see `declare`)."""
        declare(channel, self.queue, self.service, self.parking.queue_type)

    def _address(self, _message) -> tuple[str, str]:
        """Where a copy goes to reach this queue alone (see the module's docstring)."""
        return retry_exchange_name(self.service), self.queue

    def _park(self, message, reason: str, attempts: int):
        self.parking.park(message, self.queue, reason, attempts, *self._address(message))
        self.ack(message)

    def admit(self, message) -> bool:
        """True to handle this delivery now; False when it was parked (delivered too often
        without an answer) or, on a classic queue, put back with its lost attempt counted."""
        attempts = attempts_before(message)
        redelivered = bool((message.delivery_info or {}).get("redelivered"))
        if redelivered and self.classic:
            attempts += 1  # the delivery before this one ended without an answer
        if attempts >= self.limit:
            self._park(message, f"delivered {attempts} times without being processed",
                       attempts)
            return False
        if redelivered and self.classic:
            self._put_back(message, attempts)
            return False
        return True

    def _put_back(self, message, attempts: int):
        self.parking.put_back(message, attempts, *self._address(message))
        self.ack(message)

    def failed(self, message, exc: BaseException, sleep=time.sleep):
        """After the handler raised: park the message at its last attempt, else put it back
        (counted, unless `exc` says a dependency is down) after a pause."""
        before = attempts_before(message)
        if isinstance(exc, ServiceUnavailable):
            sleep(retry_pause(before + 1))
            self._put_back(message, before)
            return
        attempts = before + 1
        if attempts >= self.limit:
            self._park(message, f"failed {attempts} times; the last time: "
                       f"{type(exc).__name__}: {exc}", attempts)
            return
        log.debug("a message of %s failed (attempt %d of %d: %s: %s); retrying it later",
                    self.queue, attempts, self.limit, type(exc).__name__, str(exc)[:300])
        sleep(retry_pause(attempts))
        self._put_back(message, attempts)

    def undecodable(self, message, exc: BaseException):
        self._park(message, f"undecodable body: {type(exc).__name__}: {exc}",
                   attempts_before(message) + 1)

    def unanswerable(self, message, why: str):
        self._park(message, why, attempts_before(message) + 1)


_parkings: dict[tuple[str, str], Parking] = {}
_parkings_lock = threading.Lock()


def parking_for(amqp_uri: str, queue_type: str) -> Parking:
    """The process's Parking for a broker and queue type (one connection, shared by its
    consumers)."""
    with _parkings_lock:
        key = (amqp_uri, queue_type)
        if key not in _parkings:
            _parkings[key] = Parking(amqp_uri, queue_type)
        return _parkings[key]
