"""Client CPU against its real floor: bare aiohttp (pre-signed headers, precomputed bodies) vs our writers.

    python -m bench.floor [--items 6000] [--batch-items 25000] [--concurrency 64] [--repeat 3] [--profile]

Side by side in one run, on one embedded server, at one concurrency, on the same event loop (uvloop when
installed, as ``write()`` runs): the floor is what aiohttp alone costs to send a request and read its answer
(signatures and bodies made before the clock starts; a fixed pool of ``concurrency`` coroutines sends them).
Each figure is the median of ``--repeat`` interleaved runs, on a reset table each time. Targets: async <= 1.25 x
the floor per request; async-batch <= 1.25 x the floor per batch request + 3 us per item. Then every peer's CPU
per item in the same run (boto3, aiobotocore, the official async SDK, aiodynamo). ``--profile`` prints where
our async writer's CPU goes (cProfile, own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import pstats
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiohttp

from bench.common import lab
from core.domain.books import Book, generate_books
from core.targets.tables import reset_table
from core.targets.target import Target
from core.wire import sigv4
from core.wire.protocol import CONTENT_TYPE, MAX_BATCH_ITEMS, batch_write_body, put_item_body, target_header
from core.writers import APPROACHES, WriterOptions, run_loop, write

REQUEST_RATIO = 1.25
PER_ITEM_US = 3.0


@dataclass(frozen=True)
class Cpu:
    """Client CPU of one run: seconds, requests sent, items written."""

    seconds: float
    requests: int
    items: int

    @property
    def us_per_request(self) -> float:
        return self.seconds / max(self.requests, 1) * 1e6

    @property
    def us_per_item(self) -> float:
        return self.seconds / max(self.items, 1) * 1e6


def presigned(target: Target, books: Sequence[Book], batch: bool) -> list[tuple[bytes, dict[str, str]]]:
    """Every request of the run, body encoded and headers signed, made before the clock starts."""
    table = APPROACHES["async-batch" if batch else "async"].table
    url, creds, now = target.resolved_endpoint(), target.credentials(), dt.datetime.now(dt.UTC)
    operation = "BatchWriteItem" if batch else "PutItem"
    base = [("Content-Type", CONTENT_TYPE), ("X-Amz-Target", target_header(operation)),
            ("Accept-Encoding", "identity")]
    if batch:
        bodies = [batch_write_body(table, books[i:i + MAX_BATCH_ITEMS]) for i in range(0, len(books), MAX_BATCH_ITEMS)]
    else:
        bodies = [put_item_body(table, book) for book in books]
    return [(body, sigv4.sign("POST", url, base, body, credentials=creds, region=target.region,
                              service="dynamodb", now=now)) for body in bodies]


async def _floor(url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int) -> Cpu:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=300)
    failed = 0
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        pending = iter(requests)

        async def worker() -> None:
            nonlocal failed
            for body, headers in pending:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    failed += response.status != 200

        started = time.process_time()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
        seconds = time.process_time() - started
    if failed:
        raise SystemExit(f"the floor run had {failed} failed requests: the figures would not be comparable")
    return Cpu(seconds, len(requests), 0)


def floor(target: Target, books: Sequence[Book], batch: bool, concurrency: int) -> Cpu:
    reset_table(target.client(), APPROACHES["async-batch" if batch else "async"].table)
    requests = presigned(target, books, batch)
    measured = on_loop(_floor(target.resolved_endpoint(), requests, concurrency))
    return Cpu(measured.seconds, measured.requests, len(books))


def on_loop(coroutine: Coroutine[Any, Any, Cpu]) -> Cpu:
    """On the loop ``write()`` runs on (uvloop when installed)."""
    return cast(Cpu, run_loop(coroutine))  # type: ignore[arg-type]  # run_loop is typed for RunReport


def ours(target: Target, books: Sequence[Book], approach: str, concurrency: int) -> Cpu:
    reset_table(target.client(), APPROACHES[approach].table)
    report = write(approach, books, target, WriterOptions(concurrency=concurrency))
    if not report.complete:
        raise SystemExit(f"{approach}: {report.items_failed} failed, {report.items_unknown} unknown")
    return Cpu(report.client_cpu_seconds, report.requests, report.items)


def median(runs: list[Cpu]) -> Cpu:
    ordered = sorted(runs, key=lambda cpu: cpu.seconds)
    return ordered[len(ordered) // 2]


def interleaved(repeat: int, *measures: Callable[[], Cpu]) -> list[Cpu]:
    """Each measure ``repeat`` times, taking turns (drift and neighbours' load hit all alike); medians out."""
    runs: list[list[Cpu]] = [[] for _ in measures]
    for _ in range(repeat):
        for slot, measure in enumerate(measures):
            runs[slot].append(measure())
    return [median(r) for r in runs]


def profile(target: Target, books: Sequence[Book], approach: str, concurrency: int, top: int = 25) -> str:
    reset_table(target.client(), APPROACHES[approach].table)
    profiler = cProfile.Profile()
    profiler.enable()
    write(approach, books, target, WriterOptions(concurrency=concurrency))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


PEER_ROWS = ("sequential", "threaded", "aiobotocore", "aws-sdk", "aiodynamo",
             "sequential-batch", "aiobotocore-batch", "aws-sdk-batch", "aiodynamo-batch")


def peer_row(name: str, target: Target, books: Sequence[Book], concurrency: int, repeat: int) -> Cpu | str:
    """One row of the peers table: the median CPU of ``name``, or why it cannot run here."""
    reason = APPROACHES[name].unavailable
    if reason is not None:
        return reason
    return interleaved(repeat, lambda: ours(target, books, name, concurrency))[0]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6000, help="items for the PutItem runs")
    parser.add_argument("--batch-items", type=int, default=25_000, help="items for the BatchWriteItem runs")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions for async")
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    c = args.concurrency
    books = list(generate_books(args.items, seed=4))
    batch_books = list(generate_books(args.batch_items, seed=5))
    with lab() as (_, target):
        floor_put, async_put = interleaved(args.repeat, lambda: floor(target, books, False, c),
                                           lambda: ours(target, books, "async", c))
        floor_batch, async_batch = interleaved(args.repeat, lambda: floor(target, batch_books, True, c),
                                               lambda: ours(target, batch_books, "async-batch", c))
        print(f"client CPU, concurrency {c}, median of {args.repeat} interleaved runs")
        print(f"{'run':<22} {'us/request':>10} {'us/item':>8} {'requests':>8}")
        for name, cpu in (("floor PutItem", floor_put), ("async", async_put),
                          ("floor BatchWriteItem", floor_batch), ("async-batch", async_batch)):
            print(f"{name:<22} {cpu.us_per_request:>10.1f} {cpu.us_per_item:>8.1f} {cpu.requests:>8}")
        ratio = async_put.us_per_request / floor_put.us_per_request
        print(f"async / floor per request: {ratio:.2f} x (target <= {REQUEST_RATIO}) {verdict(ratio <= REQUEST_RATIO)}")
        per_batch = async_batch.us_per_request / floor_batch.us_per_request
        items_per_request = args.batch_items / max(async_batch.requests, 1)
        extra = (async_batch.us_per_request - REQUEST_RATIO * floor_batch.us_per_request) / items_per_request
        print(f"async-batch / floor per batch request: {per_batch:.2f} x; beyond {REQUEST_RATIO} x the floor: "
              f"{extra:+.1f} us per item (target <= {PER_ITEM_US}) {verdict(extra <= PER_ITEM_US)}")

        if not args.skip_peers:
            print(f"\npeers, client CPU per item at concurrency {c} (same server; median of {args.repeat})")
            print(f"{'approach':<18} {'us/item':>8} {'x ours':>7}")
            for name in PEER_ROWS:
                batch = name.endswith("-batch")
                result = peer_row(name, target, batch_books if batch else books, c, args.repeat)
                if isinstance(result, str):
                    print(f"{name:<18} unavailable: {result}")
                else:
                    ref = (async_batch if batch else async_put).us_per_item
                    print(f"{name:<18} {result.us_per_item:>8.1f} {result.us_per_item / ref:>7.2f}")

        if args.profile:
            print("\nwhere async's client CPU goes (cProfile, own time, top 25):")
            print(profile(target, books, "async", c))


if __name__ == "__main__":
    main()
