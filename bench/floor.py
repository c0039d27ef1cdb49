"""Client CPU against its real floor: bare aiohttp (pre-signed headers, precomputed bodies) vs our writers.

    python -m bench.floor [--items 4000] [--batch-items 20000] [--concurrency 64] [--repeat 7] [--peer-repeat 3]
                          [--profile] [--decompose] [--skip-peers] [--peers aiodynamo,aiodynamo-batch]

The floor sends with no timer per request, as the writer does (one watchdog times its requests out:
``core.writers.transports.Deadlines``). Side by side on one embedded server and event loop: each comparison is
``--repeat`` pairs of runs in alternating order (ABBA), a figure the median of the pairs' ratios with their spread;
"met" or "NOT met" only when every pair agrees, else "not stable" (repeat on a quieter machine). Targets: async <=
1.15 x the floor per request; async-batch <= 1.25 x the floor per batch request + 3 us per item; aiodynamo >= 1.5 x
our CPU per item. ``--profile`` shows where the async writer's CPU goes (cProfile); ``--decompose`` measures it in
place instead: ``async`` beside the floor as it is, with each request's signature made before the clock starts, and
with its body too (what is left: the retry loop, tally, breaker, watchdog, CRC check and transport).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import pstats
import statistics
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, cast
from unittest import mock

import aiohttp

from bench.common import lab
from core.domain.books import Book, generate_books
from core.targets.tables import reset_table
from core.targets.target import Target
from core.wire import sigv4
from core.wire.protocol import CONTENT_TYPE, MAX_BATCH_ITEMS, batch_write_body, put_item_body, target_header
from core.writers import APPROACHES, WriterOptions, run_loop, transports, write

REQUEST_RATIO = 1.15  # async's CPU per request over the floor's
BATCH_RATIO = 1.25  # async-batch's CPU per batch request over the floor's, before the per-item allowance
PER_ITEM_US = 3.0  # async-batch's allowance per item beyond BATCH_RATIO x the floor
PEER_MARGIN = 1.5  # aiodynamo's CPU per item over ours, at least


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
    # No timer per request (aiohttp's default arms one, a 5-minute total): the writer has none either (Deadlines)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                     timeout=aiohttp.ClientTimeout()) as session:
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


def ours_prepared(target: Target, books: Sequence[Book], concurrency: int, bodies: bool) -> Cpu:
    """``async`` with each request's signature (and with ``bodies``, its body) made before the clock starts: the
    signer (and the encoder) replaced for this run by a lookup of what ``presigned`` made."""
    prepared = presigned(target, books, False)
    signed = {body: headers for body, headers in prepared}
    by_isbn = {book.isbn: body for book, (body, _) in zip(books, prepared, strict=True)}

    def sign(_: sigv4.Signer, body: bytes, **__: object) -> dict[str, str]:
        return signed[body]

    def encode(_: str, book: Book) -> bytes:
        return by_isbn[book.isbn]

    with mock.patch.object(sigv4.Signer, "sign", sign):
        if not bodies:
            return ours(target, books, "async", concurrency)
        with mock.patch.object(transports, "put_item_body", encode):
            return ours(target, books, "async", concurrency)


def decompose(target: Target, books: Sequence[Book], concurrency: int, repeat: int) -> str:
    """``async``'s CPU per request beyond the floor's, in place: as it is, without signing, without signing and
    encoding; each variant in ``repeat`` pairs with the floor."""
    variants = (("async", lambda: ours(target, books, "async", concurrency)),
                ("  signatures made before", lambda: ours_prepared(target, books, concurrency, False)),
                ("  signatures and bodies made before", lambda: ours_prepared(target, books, concurrency, True)))
    lines = [f"{'run':<36} {'us/request':>10} {'beyond the floor':>17} {'x the floor':>24}"]
    for name, variant in variants:
        pairs = paired(repeat, lambda: floor(target, books, False, concurrency), variant)
        bare, mine = medians(pairs)
        ratio = ratios(pairs, lambda cpu: cpu.us_per_request)
        lines.append(f"{name:<36} {mine.us_per_request:>10.1f} {mine.us_per_request - bare.us_per_request:>14.1f} us "
                     f"{ratio.text():>24}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Spread:
    """Repeated figures of one comparison: their median and their range."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def text(self, unit: str = " x", digits: int = 2) -> str:
        return f"{self.median:.{digits}f}{unit} (spread {self.low:.{digits}f}-{self.high:.{digits}f})"


def verdict(spread: Spread, target: float, at_least: bool = False) -> str:
    """"met" when every repeat meets ``target`` (a ceiling, or a floor with ``at_least``), "NOT met" when none does,
    else "not stable" with the share that met it: the spread straddles the target."""
    met = sum(value >= target if at_least else value <= target for value in spread.values)
    if met == len(spread.values):
        return "met"
    if met == 0:
        return "NOT met"
    return (f"not stable: {met} of {len(spread.values)} repeats met it (repeat on a quieter machine or with more "
            "--repeat)")


def paired(repeat: int, first: Callable[[], Cpu], second: Callable[[], Cpu]) -> list[tuple[Cpu, Cpu]]:
    """``repeat`` pairs (first, second), each measured back to back, the order alternating pair by pair."""
    pairs = []
    for index in range(repeat):
        if index % 2:
            b, a = second(), first()
        else:
            a, b = first(), second()
        pairs.append((a, b))
    return pairs


def ratios(pairs: Sequence[tuple[Cpu, Cpu]], per: Callable[[Cpu], float]) -> Spread:
    """second ÷ first of each pair, by ``per`` (µs per request or per item)."""
    return Spread(tuple(per(b) / per(a) for a, b in pairs))


def batch_extra(pairs: Sequence[tuple[Cpu, Cpu]]) -> Spread:
    """µs per item that async-batch spends beyond ``BATCH_RATIO`` x the floor's batch request, pair by pair."""
    return Spread(tuple((ours.us_per_request - BATCH_RATIO * bare.us_per_request) * ours.requests
                        / max(ours.items, 1) for bare, ours in pairs))


def medians(pairs: Sequence[tuple[Cpu, Cpu]]) -> tuple[Cpu, Cpu]:
    """Each side's median run (by CPU seconds)."""
    def median(side: Sequence[Cpu]) -> Cpu:
        return sorted(side, key=lambda cpu: cpu.seconds)[len(side) // 2]

    return median([a for a, _ in pairs]), median([b for _, b in pairs])


WHERE = (("aiohttp", "aiohttp"), ("event loop", "asyncio"), ("event loop", "uvloop"),
         ("signing", "core/wire/sigv4"), ("request bodies", "core/wire/protocol"),
         ("request bodies", "core/domain/books"),
         ("retry loop and tally", "core/writers/exchange"), ("retry loop and tally", "core/wire/retry"),
         ("transport", "core/writers/transports"))


def where(filename: str) -> str:
    """The part of the stack a profiled Python function belongs to."""
    for name, marker in WHERE:
        if marker in filename:
            return name
    return "other Python"


def shares(stats: pstats.Stats) -> Counter[str]:
    """Own time by part of the stack; a C function's (hashing, JSON, socket calls) goes to the parts that called
    it, by the time each call site spent in it."""
    parts: Counter[str] = Counter()
    for (filename, _, _), (_, _, own, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename != "~" or not callers:
            parts[where(filename)] += own
            continue
        for (caller, _, _), edge in callers.items():
            parts[where(caller)] += edge[2]
    return parts


def profile(target: Target, books: Sequence[Book], approach: str, concurrency: int, top: int = 25) -> str:
    """cProfile's own time of one run of ``approach``: shares by where the code lives, then the top functions."""
    reset_table(target.client(), APPROACHES[approach].table)
    profiler = cProfile.Profile()
    profiler.enable()
    write(approach, books, target, WriterOptions(concurrency=concurrency))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    parts = shares(stats)
    total = sum(parts.values()) or 1.0
    lines = [f"  {name:<22} {seconds / total:6.1%}" for name, seconds in parts.most_common()]
    stats.sort_stats("tottime").print_stats(top)
    return ("share of own time by where the code lives (C calls to their callers; cProfile inflates Python calls, "
            "so our share is an upper bound):\n" + "\n".join(lines) + "\n" + out.getvalue())


PEER_ROWS = ("sequential", "threaded", "aiobotocore", "aws-sdk", "aiodynamo",
             "sequential-batch", "aiobotocore-batch", "aws-sdk-batch", "aiodynamo-batch")
MARGIN_PEERS = ("aiodynamo", "aiodynamo-batch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000, help="items for the PutItem runs")
    parser.add_argument("--batch-items", type=int, default=20_000, help="items for the BatchWriteItem runs")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=7, help="pairs of runs for the floor comparisons")
    parser.add_argument("--peer-repeat", type=int, default=3,
                        help="pairs of runs (ours, the peer's) per peer; 'ours' is our median run in those pairs")
    parser.add_argument("--profile", action="store_true", help="also print where async's CPU goes (cProfile)")
    parser.add_argument("--decompose", action="store_true",
                        help="also measure async's cost beyond the floor in place: without signing, without encoding")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--peers", default=",".join(PEER_ROWS),
                        help="the peers to compare, comma-separated (default: all; e.g. aiodynamo,aiodynamo-batch)")
    args = parser.parse_args()
    if args.repeat < 1 or args.peer_repeat < 1:
        parser.error("--repeat and --peer-repeat must be at least 1")
    peers = [name.strip() for name in args.peers.split(",") if name.strip()]
    if unknown := [name for name in peers if name not in PEER_ROWS]:
        parser.error(f"--peers: {', '.join(unknown)} is not a peer; choose among {', '.join(PEER_ROWS)}")
    c = args.concurrency
    books = list(generate_books(args.items, seed=4))
    batch_books = list(generate_books(args.batch_items, seed=5))
    with lab() as (_, target):
        put = paired(args.repeat, lambda: floor(target, books, False, c), lambda: ours(target, books, "async", c))
        batch = paired(args.repeat, lambda: floor(target, batch_books, True, c),
                       lambda: ours(target, batch_books, "async-batch", c))
        print(f"client CPU, concurrency {c}, {args.repeat} pairs of runs (alternating order); each side's median run")
        print(f"{'run':<22} {'us/request':>10} {'us/item':>8} {'requests':>8}")
        for name, cpu in zip(("floor PutItem", "async", "floor BatchWriteItem", "async-batch"),
                             (*medians(put), *medians(batch)), strict=True):
            print(f"{name:<22} {cpu.us_per_request:>10.1f} {cpu.us_per_item:>8.1f} {cpu.requests:>8}")
        single = ratios(put, lambda cpu: cpu.us_per_request)
        print(f"async / floor per request: {single.text()} (target <= {REQUEST_RATIO}) "
              f"{verdict(single, REQUEST_RATIO)}")
        per_batch, extra = ratios(batch, lambda cpu: cpu.us_per_request), batch_extra(batch)
        print(f"async-batch / floor per batch request: {per_batch.text()}; beyond {BATCH_RATIO} x the floor: "
              f"{extra.text(' us per item', 1)} (target <= {PER_ITEM_US}) {verdict(extra, PER_ITEM_US)}")

        if not args.skip_peers:
            print(f"\npeers, client CPU per item at concurrency {c} (same server; {args.peer_repeat} pairs of runs, "
                  "each with a run of ours)")
            print(f"{'approach':<18} {'us/item':>8} {'ours':>8} {'x ours':>24}")
            for name in peers:
                reason = APPROACHES[name].unavailable
                if reason is not None:
                    print(f"{name:<18} unavailable: {reason}")
                    continue
                mine = "async-batch" if name.endswith("-batch") else "async"
                some = batch_books if mine == "async-batch" else books
                pairs = paired(args.peer_repeat, lambda: ours(target, some, mine, c),  # noqa: B023
                               lambda: ours(target, some, name, c))  # noqa: B023
                margin = ratios(pairs, lambda cpu: cpu.us_per_item)
                note = f" (target >= {PEER_MARGIN}) {verdict(margin, PEER_MARGIN, at_least=True)}" \
                    if name in MARGIN_PEERS else ""
                mine_run, peer_run = medians(pairs)
                print(f"{name:<18} {peer_run.us_per_item:>8.1f} {mine_run.us_per_item:>8.1f} {margin.text():>24}{note}")

        if args.decompose:
            print(f"\nwhere async's client CPU beyond the floor goes, in place ({args.repeat} pairs with the floor "
                  "each; each side's median run):")
            print(decompose(target, books, c, args.repeat))

        if args.profile:
            print("\nwhere async's client CPU goes (cProfile, own time):")
            print(profile(target, books, "async", c))


if __name__ == "__main__":
    main()
