"""The background entrypoint in a real container: runs at start, again at once while it
reports more work, when nudged, and stops."""
import time

import pytest

from svckit.background import Nudge, background
from svckit.container_settings import container_config
from svckit.service import rpc
from tests.helpers import service_settings

runs: list[float] = []
more = {"left": 0}


class BackgroundService:
    name = "bgsvc"
    wake = Nudge()

    @background(interval=30)
    def work(self) -> bool:
        runs.append(time.monotonic())
        if more["left"]:
            more["left"] -= 1
            return True
        return False

    @rpc
    def poke(self):
        self.wake()


@pytest.fixture
def container(rabbit_config, container_factory, tmp_path):
    runs.clear()
    more["left"] = 2
    settings = service_settings(rabbit_config["AMQP_URI"], tmp_path)
    c = container_factory(BackgroundService, container_config(settings))
    c.start()
    return c


def wait_for(count, seconds=5):
    deadline = time.monotonic() + seconds
    while len(runs) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(runs)


def test_runs_at_start_and_again_while_there_is_more(container):
    assert wait_for(3) == 3  # the first run, then two more at once (interval is 30 s)
    time.sleep(0.3)
    assert len(runs) == 3


def test_a_nudge_runs_it_now(container):
    from nameko.testing.services import entrypoint_hook
    wait_for(3)
    with entrypoint_hook(container, "poke") as poke:
        poke()
    assert wait_for(4) == 4


def test_stops(container):
    wait_for(3)
    container.stop()
    count = len(runs)
    time.sleep(0.2)
    assert len(runs) == count
