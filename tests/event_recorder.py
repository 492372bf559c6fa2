"""A pytest plugin that writes down every event the tests record: each call of
`EventStore.record` or `record_new_streams` appends a JSON line (service, type, payload) to
the file named by EVENT_RECORD_FILE, before the store checks and writes it.
`tests/test_event_catalog_coverage.py` runs the service-level tests with it
(`-p tests.event_recorder`) and checks every recorded event against its type's model."""
import json
import os

from svckit.events import EventStore

_record = EventStore.record
_record_new_streams = EventStore.record_new_streams


def _write(service: str, type_: str, payloads):
    with open(os.environ["EVENT_RECORD_FILE"], "a") as out:
        for payload in payloads:
            out.write(json.dumps({"service": service, "type": type_, "payload": payload},
                                 default=str) + "\n")


def record(self, session, stream_type, stream_id, type_, payload, *args, **kwargs):
    _write(self.service, type_, [payload])
    return _record(self, session, stream_type, stream_id, type_, payload, *args, **kwargs)


def record_new_streams(self, session, stream_type, stream_ids, type_, payloads, *args,
                       **kwargs):
    _write(self.service, type_, payloads)
    return _record_new_streams(self, session, stream_type, stream_ids, type_, payloads, *args,
                               **kwargs)


def pytest_configure(config):
    if os.environ.get("EVENT_RECORD_FILE"):
        EventStore.record = record  # type: ignore[method-assign]
        EventStore.record_new_streams = record_new_streams  # type: ignore[method-assign]
