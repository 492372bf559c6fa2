"""svckit.dispatcher without a container: a key whose jobs hang holds its own slots only,
jobs running too long are cut off with their `timed_out` outcome, and the outcomes of
finished jobs are recorded together."""
from dataclasses import dataclass
from types import SimpleNamespace

import eventlet
from eventlet.greenpool import GreenPool

from svckit.dispatcher import Dispatcher


@dataclass
class Limits:
    concurrency: int = 6
    per_key: int = 2
    poll: float = 0.01
    limit: float = 0.3


class FakeJobs:
    """Keys "slow" (jobs that hang) and "fast", 5 jobs each; records what was claimed."""

    def __init__(self):
        self.queued = {"slow": [f"slow{n}" for n in range(5)],
                       "fast": [f"fast{n}" for n in range(5)]}
        self.recorded: list[list] = []

    def due_keys(self, db):
        return [key for key, jobs in self.queued.items() if jobs]

    def claim(self, db, key, count):
        taken, self.queued[key] = self.queued[key][:count], self.queued[key][count:]
        return taken

    def run(self, job):
        if job.startswith("slow"):
            eventlet.sleep(10)
        return "ok"

    def timed_out(self, job):
        return "cut off"

    def record(self, db, outcomes):
        self.recorded.append(list(outcomes))


def dispatcher(jobs) -> Dispatcher:
    d = Dispatcher(lambda _s: jobs, lambda _s: Limits())
    d.jobs, d.limits, d.pool = jobs, Limits(), GreenPool(Limits.concurrency)
    d.store = SimpleNamespace(db=None)
    return d


def test_a_hanging_key_holds_its_own_slots_only():
    jobs = FakeJobs()
    d = dispatcher(jobs)
    d.dispatch_once()
    assert d.in_flight == {"slow": 2, "fast": 2}
    for _ in range(20):  # the fast key's jobs go on while the slow ones hang
        eventlet.sleep(0.005)
        d.record_finished()
        d.dispatch_once()
    eventlet.sleep(0.4)  # past the limit: the hanging ones are cut off
    d.record_finished()
    outcomes = [pair for batch in jobs.recorded for pair in batch]
    fast = [pair for pair in outcomes if pair[0].startswith("fast")]
    assert sorted(fast) == [(f"fast{n}", "ok") for n in range(5)]
    assert ("slow0", "cut off") in outcomes and ("slow1", "cut off") in outcomes
    assert all(outcome == "cut off" for job, outcome in outcomes if job.startswith("slow"))
    # every fast job finished before the first slow one was cut off
    assert max(outcomes.index(p) for p in fast) < outcomes.index(("slow0", "cut off"))


def test_outcomes_are_kept_when_they_cannot_be_recorded():
    jobs = FakeJobs()
    d = dispatcher(jobs)
    d.finished = [("fast0", "ok")]

    def down(db, outcomes):
        raise RuntimeError("database down")
    jobs.record = down
    try:
        d.record_finished()
    except RuntimeError:
        pass
    assert d.finished == [("fast0", "ok")]
