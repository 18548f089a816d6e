"""The prefetcher's own contract: order, bounded RAM (spill to disk), errors in order."""

from __future__ import annotations

import threading

import pytest

from tap_zoom_defender.prefetch import ListingSlots, Prefetcher, Spool, pool_size


def test_spool_spills_beyond_its_memory_limit_and_keeps_order():
    spool = Spool(memory_records=5)
    for n in range(10):
        spool.put(n % 2, [{"n": n, "i": i} for i in range(3)])
    spool.finish()
    assert spool.spilled_records >= 20  # only the first segment fits in RAM
    evens = [r["n"] for batch in spool.take(lambda tag: tag == 0) for r in batch]
    assert evens == [0, 0, 0, 2, 2, 2, 4, 4, 4, 6, 6, 6, 8, 8, 8]
    assert not spool.drained  # odd segments are still there for a later window
    odds = [r["n"] for batch in spool.take(lambda tag: True) for r in batch]
    assert odds == [n for n in (1, 3, 5, 7, 9) for _ in range(3)]
    assert spool.drained
    spool.close()


@pytest.mark.parametrize("workers", [1, 3])
def test_records_come_back_in_task_order_and_a_failure_surfaces_in_place(workers):
    threads: set[str] = set()

    def fetch(task: int):
        threads.add(threading.current_thread().name)
        for page in range(4):
            yield 0, [(task, page)]
        if task == 4:
            raise RuntimeError("listing 4 failed")

    got: list[tuple[int, int]] = []
    with Prefetcher(list(range(7)), fetch, workers=workers, memory_records=2) as fetcher:
        with pytest.raises(RuntimeError, match="listing 4 failed"):
            for index in range(7):
                for batch in fetcher.spool(index).take(lambda tag: True):
                    got.extend(batch)
                fetcher.release(index)
    # Everything before the failing listing, and what it fetched before failing, in order.
    assert got == [(task, page) for task in range(5) for page in range(4)]
    assert (len(threads) > 1) == (workers > 1)


def test_pool_size_follows_budget_and_latency_within_bounds():
    assert pool_size(budget_per_second=10, latency_s=0.15, max_workers=8, listings=8) == 4
    assert pool_size(budget_per_second=40, latency_s=0.15, max_workers=8, listings=8) == 8
    assert pool_size(budget_per_second=40, latency_s=0.15, max_workers=16, listings=5) == 5
    assert pool_size(budget_per_second=5, latency_s=0.001, max_workers=8, listings=8) == 2


def test_pools_sharing_listing_slots_never_page_more_listings_at_once_than_the_slots():
    slots = ListingSlots()
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    def fetch(task: tuple[str, int]):
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        try:
            for page in range(3):
                threading.Event().wait(0.002)  # let the other pool's workers run meanwhile
                yield 0, [(*task, page)]
        finally:
            with lock:
                running["now"] -= 1

    pools = [
        Prefetcher(
            [(name, i) for i in range(6)],
            fetch,
            workers=lambda _: 3,
            slots=slots,
            priority=turn,
            name=name,
        )
        for turn, name in enumerate(("first", "second"))
    ]
    got: dict[str, list] = {"first": [], "second": []}
    try:
        for pool in pools:
            pool.start()  # both fetch from now on, as the tap starts every stream
        for pool, name in zip(pools, got, strict=True):
            for index in range(6):
                for batch in pool.spool(index).take(lambda tag: True):
                    got[name].extend(batch)
                pool.release(index)
    finally:
        for pool in pools:
            pool.close()
    for name, records in got.items():
        assert records == [(name, i, page) for i in range(6) for page in range(3)]
    assert slots.capacity == 3
    # Plus one: the second pool's first page is sent alone (outside the slots) when it starts;
    # that listing then waits for a slot to go on.
    assert running["most"] <= slots.capacity + 1
