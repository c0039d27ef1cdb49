"""The engines side by side: what dynalite, AWS DynamoDB Local and host-mode LocalStack can carry on this machine.

    python -m bench.engines [--seq-items 400] [--batch-items 5000] [--threads 4]
                            [--engines dynalite,dynamodb-local,localstack] [--write-docs]

Each engine gets the same plain boto3 load in turn: sequential ``put_item``, then batches of 25 from ``--threads``
threads; every item is counted back. Beside each figure, the server's and the client's CPU (a Java server may pass
100 %; server-bound from ``SERVER_BOUND_CPU``). Figures, never assertions. ``--write-docs`` writes the table into
docs/targets.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import psutil
from botocore.config import Config

from bench.docs import stamp, write_section
from core.domain.books import generate_books
from core.domain.results import SERVER_BOUND_CPU
from core.servers.dynamodb_local import DynamoDBLocal
from core.servers.emulator import Emulator
from core.servers.localstack import LocalStack
from core.targets.monitor import cpu_sampler
from core.targets.tables import count_items, create_table

TABLE_SEQ, TABLE_BATCH = "lab_bench_engines_seq", "lab_bench_engines_batch"


@dataclass(frozen=True)
class Figure:
    items: int
    seconds: float
    server_cpu: float  # mean % of one core
    client_cpu: float  # % of one core used by this process
    gateway_cpu: float | None = None  # LocalStack: its Python gateway in front of its DynamoDB Local

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        busiest = max(self.server_cpu, self.gateway_cpu or 0.0)
        bound = f"  [server-bound: {busiest:.0f}% CPU]" if busiest >= SERVER_BOUND_CPU else ""
        gateway = "" if self.gateway_cpu is None else f"   gateway {self.gateway_cpu:>4.0f}% CPU"
        return (f"  {label:<22} {self.per_second:>8,.0f} items/s   server {self.server_cpu:>4.0f}% CPU{gateway}   "
                f"client {self.client_cpu:>4.0f}% CPU{bound}")


@contextmanager
def engine(name: str) -> Iterator[tuple[str, int | None, int | None]]:
    """The engine's endpoint URL, server pid and (LocalStack) gateway pid, started for the block."""
    started = time.monotonic()
    if name == "dynalite":
        with Emulator() as emulator:
            print(f"{name}: started in {time.monotonic() - started:.1f} s at {emulator.endpoint_url}")
            yield emulator.endpoint_url, emulator.pid, None
        return
    local = DynamoDBLocal() if name == "dynamodb-local" else LocalStack()
    local.start(timeout=240)
    try:
        print(f"{name}: started in {time.monotonic() - started:.1f} s at {local.endpoint_url}")
        yield local.endpoint_url, local.pid, local.engine_pid if name == "localstack" else None
    finally:
        local.stop()


def measured(pid: int | None, gateway_pid: int | None, work: Callable[[], int]) -> Figure:
    me = psutil.Process()
    cpu_before = sum(me.cpu_times()[:2])
    with cpu_sampler(pid, interval=0.2) as samples, cpu_sampler(gateway_pid, interval=0.2) as gateway:
        started = time.perf_counter()
        items = work()
        seconds = time.perf_counter() - started
    client = (sum(me.cpu_times()[:2]) - cpu_before) / seconds * 100
    return Figure(items, seconds, statistics.mean(samples) if samples else 0.0, client,
                  statistics.mean(gateway) if gateway else None)


def sequential(client: Any, items: Sequence[dict[str, Any]]) -> int:
    for item in items:
        client.put_item(TableName=TABLE_SEQ, Item=item)
    return len(items)


def batched(client: Any, items: Sequence[dict[str, Any]], threads: int) -> int:
    batches = [items[i:i + 25] for i in range(0, len(items), 25)]
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not batches:
                    return
                batch = batches.pop()
            requests = [{"PutRequest": {"Item": item}} for item in batch]
            while requests:
                answer = client.batch_write_item(RequestItems={TABLE_BATCH: requests})
                requests = answer.get("UnprocessedItems", {}).get(TABLE_BATCH, [])

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-items", type=int, default=400)
    parser.add_argument("--batch-items", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--engines", default="dynalite,dynamodb-local,localstack")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/targets.md")
    args = parser.parse_args()
    books = [book.to_item() for book in generate_books(max(args.seq_items, args.batch_items), seed=11)]
    print(f"sequential put_item: {args.seq_items} items; BatchWriteItem: {args.batch_items} items from "
          f"{args.threads} threads; {psutil.cpu_count()} cores, load average {psutil.getloadavg()[0]:.1f}\n")
    figures: dict[str, tuple[Figure, Figure]] = {}
    for name in args.engines.split(","):
        with engine(name) as (url, pid, gateway_pid):
            figures[name] = run(url, pid, gateway_pid, books, args.seq_items, args.batch_items, args.threads)
    if args.write_docs:
        command = " ".join(["python -m bench.engines", *sys.argv[1:]])
        write_section("docs/targets.md", "engines", table(figures, args.threads) + "\n" + stamp(command))


LABELS = {"dynalite": ("dynalite (embedded)", "of a core"), "dynamodb-local": ("DynamoDB Local", "(Java)"),
          "localstack": ("LocalStack, host mode", "Java")}


def table(figures: dict[str, tuple[Figure, Figure]], threads: int) -> str:
    """docs/targets.md's table: each engine's items/s, sequential and batched, and its server's CPU."""
    lines = [f"| engine | sequential put_item | BatchWriteItem, {threads} threads | server CPU (sequential / batch) |",
             "|---|---:|---:|---|"]
    for name, (seq, batch) in figures.items():
        label, unit = LABELS.get(name, (name, "of a core"))
        cpu = f"{seq.server_cpu:.0f} % / {batch.server_cpu:.0f} % {unit}"
        if seq.gateway_cpu is not None and batch.gateway_cpu is not None:
            cpu += f", plus {seq.gateway_cpu:.0f} % / {batch.gateway_cpu:.0f} % its Python gateway"
        lines.append(f"| {label} | {seq.per_second:,.0f} items/s | {batch.per_second:,.0f} items/s | {cpu} |")
    return "\n".join(lines) + "\n"


def run(url: str, pid: int | None, gateway_pid: int | None, books: Sequence[dict[str, Any]], seq_items: int,
        batch_items: int, threads: int) -> tuple[Figure, Figure]:
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench",
                          config=Config(max_pool_connections=threads * 2,
                                        retries={"max_attempts": 10, "mode": "standard"}))
    for table in (TABLE_SEQ, TABLE_BATCH):
        create_table(client, table)
    client.put_item(TableName=TABLE_SEQ, Item=books[-1])  # warm the connection and the engine
    seq = measured(pid, gateway_pid, lambda: sequential(client, books[:seq_items]))
    batch = measured(pid, gateway_pid, lambda: batched(client, books[:batch_items], threads))
    counted = (count_items(client, TABLE_SEQ), count_items(client, TABLE_BATCH))
    print(seq.line("sequential put_item"))
    print(batch.line(f"BatchWriteItem x{threads}"))
    expected = (len({b["isbn"]["S"] for b in [*books[:seq_items], books[-1]]}), batch_items)
    print(f"  counted back: {counted[0]} + {counted[1]} items"
          f"{'' if counted == expected else f'  MISMATCH: expected {expected}'}\n")
    return seq, batch


if __name__ == "__main__":
    main()
