"""Peers at equal concurrency: the hand-signed aiohttp writers against what users would pick instead.

    python -m bench.peers [--items 6000] [--concurrency 64] [--latency-ms 5]

1. async vs aiobotocore, same concurrency, no latency (client-bound: both saturate a core).
2. async-batch vs boto3's Table.batch_writer (one batch in flight at a time), at --latency-ms (default 5 ms,
   same-region). Targets: async >= 3 x aiobotocore; async-batch >= 5 x batch_writer.
"""

from __future__ import annotations

import argparse
import time

from bench.common import lab, measure
from core.domain.books import generate_books
from core.domain.plan import Conditions
from core.targets.tables import reset_table
from core.writers import WriterOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    books = list(generate_books(args.items, seed=3))
    options = WriterOptions(concurrency=args.concurrency)
    with lab() as (emulator, target):
        ours = measure(emulator, target, "async", books, options)
        peer = measure(emulator, target, "aiobotocore", books, options)
        ratio = ours.items_per_second / peer.items_per_second
        print(f"async {ours.items_per_second:,.0f}/s vs aiobotocore {peer.items_per_second:,.0f}/s at C="
              f"{args.concurrency}: {ratio:.1f}x (target >= 3) {'met' if ratio >= 3 else 'NOT met'}{ours.flag()}")

        emulator.set_conditions(Conditions(latency_ms=args.latency_ms))
        batch = measure(emulator, target, "async-batch", books, options)
        client = target.client()
        reset_table(client, "SyncBatchBooks")
        table = target._session.resource("dynamodb", endpoint_url=target.endpoint_url).Table("SyncBatchBooks")
        started = time.perf_counter()
        with table.batch_writer() as writer:
            for book in books:
                writer.put_item(Item={"isbn": book.isbn, "title": book.title, "author": book.author,
                                      "published": book.published.isoformat()})
        writer_rate = len(books) / (time.perf_counter() - started)
        ratio = batch.items_per_second / writer_rate
        print(f"async-batch {batch.items_per_second:,.0f}/s vs Table.batch_writer {writer_rate:,.0f}/s at "
              f"{args.latency_ms:g} ms: {ratio:.1f}x (target >= 5) {'met' if ratio >= 5 else 'NOT met'}{batch.flag()}")


if __name__ == "__main__":
    main()
