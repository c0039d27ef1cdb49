"""core.wire.ratecontrol on the real path: the embedded server with a small provisioned table, the aiohttp writer,
verification by reading every item back."""

from __future__ import annotations

from core.domain.books import generate_books
from core.wire.retry import RetryPolicy


def test_adaptive_against_a_real_small_table_loses_nothing_and_wastes_less_than_standard() -> None:
    """Correctness on the real path (aiohttp writer, the capacity model's UnprocessedItems, verification by reading
    every item back); the ratios beside each other are generous (standard wastes about half its requests here)."""
    from core.domain.capacity import Capacity
    from core.servers.emulator import Emulator
    from core.targets.tables import reset_table
    from core.targets.target import make_target
    from core.targets.verify import verify
    from core.writers import APPROACHES, WriterOptions, write

    items, table = 4_000, APPROACHES["async-batch"].table
    wasted = {}
    with Emulator() as server:
        target = make_target("embedded", server_url=server.endpoint_url)
        for mode in ("adaptive", "standard"):
            server.set_capacity(Capacity())
            reset_table(target.client(), table)
            server.set_capacity(Capacity("provisioned", wcu=1000))  # one partition: 1,000 WRU/s, 1 s of burst
            options = WriterOptions(concurrency=64, retry_mode=mode, policy=RetryPolicy(max_attempts=30))
            report = write("async-batch", generate_books(items, seed=5), target, options)
            check = verify(target.client(max_attempts=3), table, generate_books(items, seed=5), report)
            assert report.items_ok == items and check.found == items
            assert check.lost == check.missing == check.unexpected == check.mismatched == 0
            assert server.stats()["capacity"]["throttles"], "the table was never the limit: nothing was tested"
            wasted[mode] = report.throttled / report.requests
    assert wasted["adaptive"] < wasted["standard"], wasted
