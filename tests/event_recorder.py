"""A pytest plugin, registered for every run by tests/conftest.py, that writes down the events
the service-level tests record (each call of `EventStore.record` or `record_new_streams`,
before the store checks it): the service, the type and the payload as JSON.
`tests/test_event_catalog_coverage.py` checks every one against its type's model.

The service-level tests are the SQLite cases of the tests under SERVICE_TESTS that need no
broker (the PostgreSQL cases record the same events). When every one of them ran and passed
earlier in the same process, the coverage test, which this plugin moves to the end of the
run, checks what they recorded; otherwise it runs them in a subprocess of their own, whose
plugin appends each event to the file named by EVENT_RECORD_FILE. tests/shards.py keeps
those files in one shard, so that `make test` and `make test-unit` need no second run."""
import json
import os

import pytest

from svckit.events import EventStore

SERVICE_TESTS = ("tests/attachments", "tests/importer", "tests/status", "tests/system",
                 "tests/users", "tests/audit")
COVERAGE_TEST = "tests/test_event_catalog_coverage.py"
NOT_SERVICE_LEVEL = ("postgres", "broker", "e2e")  # markers (tests/conftest.py sets them)
PLUGIN_NAME = "event_recorder"


def relative(item) -> str:
    return os.path.relpath(str(item.path), str(item.config.rootpath))


def is_service_level(item) -> bool:
    path = relative(item)
    return (any(path.startswith(d + os.sep) for d in SERVICE_TESTS)
            and not any(item.get_closest_marker(m) for m in NOT_SERVICE_LEVEL))


class EventRecorder:
    def __init__(self, record_file: str | None = None):
        self.record_file = record_file
        self.events: list[tuple[str, str, str]] = []  # (service, type, payload as JSON)
        self.needed: set[str] = set()  # the selected service-level tests
        self.done: set[str] = set()  # passed, or skipped
        self.failed: set[str] = set()
        self.left_out = 0  # service-level tests deselected (by -k, -m or a shard)
        self.current: str | None = None  # the service-level test running now
        self._install()

    def _install(self):
        original_record = EventStore.record
        original_new_streams = EventStore.record_new_streams
        recorder = self

        def record(store, session, stream_type, stream_id, type_, payload, *args, **kwargs):
            recorder.write(store.service, type_, [payload])
            return original_record(store, session, stream_type, stream_id, type_, payload,
                                   *args, **kwargs)

        def record_new_streams(store, session, stream_type, stream_ids, type_, payloads,
                               *args, **kwargs):
            recorder.write(store.service, type_, payloads)
            return original_new_streams(store, session, stream_type, stream_ids, type_,
                                        payloads, *args, **kwargs)

        EventStore.record = record  # type: ignore[method-assign]
        EventStore.record_new_streams = record_new_streams  # type: ignore[method-assign]

    def write(self, service: str, type_: str, payloads):
        """Keep (and append to EVENT_RECORD_FILE, if named) what a service-level test
        records; nothing of other tests (their stores may be made up for the test)."""
        if self.current is None:
            return
        lines = [json.dumps(p, default=str) for p in payloads]
        self.events.extend((service, type_, line) for line in lines)
        if self.record_file is not None:
            with open(self.record_file, "a") as out:
                for line in lines:
                    out.write(json.dumps({"service": service, "type": type_,
                                          "payload": json.loads(line)}) + "\n")

    def complete(self) -> bool:
        """Every service-level test was selected in this run and has passed (or skipped)."""
        return (self.left_out == 0 and bool(self.needed)
                and self.needed <= self.done - self.failed)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        last = [item for item in items if relative(item) == COVERAGE_TEST]
        items[:] = [item for item in items if relative(item) != COVERAGE_TEST] + last
        self.needed = {item.nodeid for item in items if is_service_level(item)}

    def pytest_deselected(self, items):
        for item in items:
            if is_service_level(item):
                self.left_out += 1
                self.needed.discard(item.nodeid)

    def pytest_runtest_logstart(self, nodeid):
        self.current = nodeid if nodeid in self.needed else None

    def pytest_runtest_logfinish(self, nodeid):
        self.current = None

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self.needed:
            return
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.skipped or (report.when == "call" and report.passed):
            self.done.add(report.nodeid)


def register(config):
    config.pluginmanager.register(EventRecorder(os.environ.get("EVENT_RECORD_FILE")),
                                  PLUGIN_NAME)
