"""Fair, bounded dispatch of outbound work (webhook deliveries) off the write path.

A `Dispatcher` is a dependency of a service: a loop in the service process that asks its
`Jobs` which keys (subscriptions) have work due, claims a few jobs of each key that has a
free slot, and runs each job in a green thread of a bounded pool. Each key has at most
`per_key` jobs in flight and the pool at most `concurrency`, so a key whose jobs are slow or
failing holds its own slots only: the other keys' jobs go on. A job's `run` returns its
outcome; one that runs longer than `limit` seconds is cut off and its outcome is
`timed_out(job)`. The loop records the outcomes that finished meanwhile together
(`record(db, [(job, outcome)])`, one transaction for many jobs). Claims are the Jobs'
business (leases in the database, so that several processes share the work, and a job whose
outcome was never recorded runs again when its lease ends).
"""
import logging
from typing import Any, Callable, Protocol

import eventlet
from eventlet.event import Event
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider

from svckit.container_settings import settings_of
from svckit.errors import ServiceUnavailable
from svckit.loop import ManagedLoop
from svckit.settings import ServiceSettings

log = logging.getLogger(__name__)
STOP_WAIT_SECONDS = 5.0


class Jobs(Protocol):
    def due_keys(self, db) -> list: ...

    def claim(self, db, key, count: int) -> list: ...

    def run(self, job) -> Any: ...

    def timed_out(self, job) -> Any: ...

    def record(self, db, outcomes: list) -> Any: ...


class DispatchLimits(Protocol):
    concurrency: int
    per_key: int
    poll: float
    limit: float  # seconds a job may run


class Dispatcher(ManagedLoop, DependencyProvider):
    """`jobs(settings)` builds the Jobs, `limits(settings)` the DispatchLimits, once, at
    setup; the service's Store provides `db`. Injects `nudge` (call it when work was added,
    to dispatch it before the next poll)."""

    def __init__(self, jobs: Callable[[ServiceSettings], Jobs],
                 limits: Callable[[ServiceSettings], DispatchLimits]):
        self.make_jobs = jobs
        self.make_limits = limits
        self._wake = Event()
        self.in_flight: dict[Any, int] = {}
        self.finished: list = []  # (job, outcome) not recorded yet

    def setup(self):
        from svckit.service import Store  # svckit.service imports this module's neighbours
        settings = settings_of(self.container)
        self.jobs = self.make_jobs(settings)
        self.limits = self.make_limits(settings)
        self.pool = GreenPool(self.limits.concurrency)
        self.store = next(d for d in self.container.dependencies if isinstance(d, Store))

    def get_dependency(self, worker_ctx):
        return self.nudge

    def nudge(self):
        if not self._wake.ready():
            self._wake.send(True)

    wake = nudge

    def stop(self):
        """Stop dispatching; attempts in flight get STOP_WAIT_SECONDS to finish (one cut off
        keeps its lease and is sent again when the lease ends: at least once)."""
        super().stop()
        with eventlet.Timeout(STOP_WAIT_SECONDS, False):
            self.pool.waitall()
        try:
            self.record_finished()
        except Exception:
            log.exception("could not record finished jobs; their leases let them run again")

    def _run(self):
        backoff = 0.5
        while self.running:
            try:
                self.record_finished()
                self.dispatch_once()
                backoff = 0.5
            except ServiceUnavailable as exc:
                log.debug("dispatch waits for the database: %s", exc.detail)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5)
            except Exception:
                log.exception("dispatch failed; trying again in %.1f s", backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5)
            with eventlet.Timeout(self.limits.poll, False):
                self._wake.wait()
            self._wake = Event()

    def record_finished(self):
        """Record the outcomes of the jobs finished since the last time, together; kept for
        the next time if that fails."""
        if not self.finished:
            return
        batch, self.finished = self.finished, []
        try:
            self.jobs.record(self.store.db, batch)
        except Exception:
            self.finished = batch + self.finished
            raise

    def dispatch_once(self) -> int:
        """Claim and start what is due for every key with a free slot; the number started."""
        db = self.store.db
        started = 0
        for key in self.jobs.due_keys(db):
            free = min(self.limits.per_key - self.in_flight.get(key, 0), self.pool.free())
            if free <= 0:
                continue
            for job in self.jobs.claim(db, key, free):
                self.in_flight[key] = self.in_flight.get(key, 0) + 1
                self.pool.spawn_n(self._run_job, db, key, job)
                started += 1
            if not self.pool.free():
                break
        return started

    def _run_job(self, db, key, job):
        try:
            with eventlet.Timeout(self.limits.limit):
                outcome = self.jobs.run(job)
        except eventlet.Timeout:
            outcome = self.jobs.timed_out(job)
        except Exception:
            log.exception("a dispatched job failed; its lease lets it run again")
            outcome = None
        finally:
            left = self.in_flight.get(key, 1) - 1
            if left:
                self.in_flight[key] = left
            else:
                self.in_flight.pop(key, None)
        if outcome is not None:
            self.finished.append((job, outcome))
        self.nudge()  # a slot is free, an outcome waits
