"""Splitting a run into shards that separate pytest processes run side by side
(`--shard I/N`, scripts/test_shards.py, `make test-unit`).

A shard takes whole test files, so a module's fixtures are set up in one process only; the
files are dealt out largest first (by number of collected tests) to the shard with the
fewest tests so far. Every process collects the same files in the same order, so the N
shards together run each selected test exactly once."""
import pytest


def parse(value: str) -> tuple[int, int]:
    """'I/N' (1 <= I <= N) as (I, N); ValueError otherwise."""
    index, _, count = value.partition("/")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise ValueError(f"shard {value!r}: expected I/N with 1 <= I <= N")
    return i, n


def assign(sizes: dict[str, int], count: int) -> dict[str, int]:
    """Each file (name: number of tests) to a shard 1..count, largest first to the lightest
    shard (ties broken by name and shard number, so every process agrees)."""
    load = [0] * count
    shard_of = {}
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        lightest = min(range(count), key=lambda s: (load[s], s))
        shard_of[name] = lightest + 1
        load[lightest] += sizes[name]
    return shard_of


def select(items: list, shard: tuple[int, int]) -> tuple[list, list]:
    """(kept, deselected) items for `shard`, by the file each item comes from."""
    index, count = shard
    sizes: dict[str, int] = {}
    for item in items:
        sizes[str(item.path)] = sizes.get(str(item.path), 0) + 1
    shard_of = assign(sizes, count)
    kept = [item for item in items if shard_of[str(item.path)] == index]
    return kept, [item for item in items if shard_of[str(item.path)] != index]


class Shard:
    """The pytest plugin of `--shard`: runs after every other collection hook (after `-m`
    and `-k` have deselected), so shards are balanced on the tests that will run."""

    def __init__(self, shard: tuple[int, int]):
        self.shard = shard

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        kept, dropped = select(items, self.shard)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    def pytest_report_header(self, config):
        return f"shard {self.shard[0]} of {self.shard[1]}"
