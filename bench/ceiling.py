"""The client's ceiling: items/s per client core of every writer, against a server that answers at once.

    python -m bench.ceiling [--items 6000] [--batch-items 30000] [--workers N] [--concurrency 64] [--repeat 3]
                            [--approaches a,b,...] [--no-write]

The server (a separate process on 127.0.0.1) answers PutItem and BatchWriteItem at once with no engine behind it, so
nothing is verified. Each figure is items ÷ the client's CPU seconds over the write, the best of ``--repeat`` runs,
with 1 process and with ``--workers`` Dask processes; also the cores needed for 40,000 items/s. The figures are
written to ``core/forecast/client_ceiling.json``, where the planner reads them; ``--no-write`` only prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from core.domain.approaches import APPROACHES, WRITERS
from core.domain.books import generate_books
from core.forecast.ceiling import CEILING_FILE, QUOTA_ITEMS_S, ClientCeiling, cores_for
from core.targets.target import Target, make_target
from core.wire.protocol import API_VERSION
from core.wire.sigv4 import Credentials
from core.writers import WriterOptions, write

ANSWERS = {f"{API_VERSION}.PutItem": b"{}", f"{API_VERSION}.BatchWriteItem": b'{"UnprocessedItems":{}}'}
REFUSED = b'{"__type":"com.amazon.coral.validate#ValidationException","message":"the instant server answers ' \
    b'PutItem and BatchWriteItem only"}'
LOCAL_KEYS = Credentials("ceiling", "ceiling")  # the server checks no signature


def answer(target: str, body: bytes = b"") -> tuple[int, bytes]:
    """The status and body the instant server sends for an ``X-Amz-Target`` (DescribeTable: the lab's book table,
    named as asked, for the clients that look before they write)."""
    fixed = ANSWERS.get(target)
    if fixed is not None:
        return 200, fixed
    if target == f"{API_VERSION}.DescribeTable":
        try:
            name = str(json.loads(body)["TableName"])
        except (ValueError, KeyError, TypeError):
            return 400, REFUSED
        return 200, json.dumps({"Table": {
            "TableName": name, "TableStatus": "ACTIVE", "ItemCount": 0, "TableSizeBytes": 0,
            "KeySchema": [{"AttributeName": "isbn", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "isbn", "AttributeType": "S"}],
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}}).encode()
    return 400, REFUSED


def response(target: str, body: bytes) -> bytes:
    status, answered = answer(target, body)
    reason = "OK" if status == 200 else "Bad Request"
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"Content-Length: {len(answered)}\r\nx-amzn-RequestId: ceiling\r\nx-amz-crc32: {zlib.crc32(answered)}"
            "\r\nConnection: keep-alive\r\n\r\n").encode() + answered


class _Instant(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: a request's head, then its body (Content-Length or chunked), then the answer."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (parsed := request_end(self.buffer)) is not None:
            end, target, body = parsed
            self.buffer = self.buffer[end:]
            self.transport.write(response(target, body))


def request_end(buffer: bytes) -> tuple[int, str, bytes] | None:
    """Where the first complete request in ``buffer`` ends, its ``X-Amz-Target`` and its body, or None while
    incomplete."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    headers = {}
    for line in buffer[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    target = headers.get(b"x-amz-target", b"").decode(errors="replace")
    start = head_end + 4
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        position, chunks = start, []
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(buffer[position:line_end].split(b";")[0], 16)
            chunks.append(buffer[line_end + 2:line_end + 2 + size])
            position = line_end + 2 + size + 2
            if position > len(buffer):
                return None
            if size == 0:
                return position, target, b"".join(chunks)
    end = start + int(headers.get(b"content-length", b"0"))
    return (end, target, buffer[start:end]) if end <= len(buffer) else None


def _serve(conn: Connection) -> None:
    """The server process: listen on a free loopback port, send it back, serve until the parent closes ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Instant, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, conn.recv_bytes)  # EOF when the parent is done (or dies)

    try:
        import uvloop
        uvloop.run(main())
    except EOFError:
        pass
    except ImportError:
        asyncio.run(main())


@contextmanager
def instant_server() -> Iterator[str]:
    """The instant server in its own process; yields its URL."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    process.start()
    try:
        if not parent.poll(30):
            raise SystemExit("the instant server did not start within 30 s")
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        parent.close()
        process.join(5)
        if process.is_alive():
            process.kill()


def target_at(url: str) -> Target:
    return make_target("custom", endpoint_url=url, credentials=LOCAL_KEYS)


@dataclass(frozen=True)
class Figure:
    """One measured run: items, the client processes' CPU seconds summed, wall seconds."""

    items: int
    cpu_seconds: float
    seconds: float

    @property
    def per_core(self) -> float:
        return self.items / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    @property
    def wall_rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


def one_process(url: str, name: str, items: int, options: WriterOptions, start: int = 0) -> Figure:
    """``name`` writes ``items`` books (made before the clock starts) in this process."""
    books = list(generate_books(items, seed=7, start=start))
    report = write(name, books, target_at(url), options)
    if not report.complete:
        raise RuntimeError(f"{name}: {report.items_failed} failed, {report.items_unknown} unknown against the "
                           f"instant server: {'; '.join(report.failures)}")
    return Figure(report.items, report.client_cpu_seconds, report.seconds)


def processes(client: Any, url: str, name: str, items: int, workers: int, options: WriterOptions) -> Figure:
    """``name`` across ``workers`` Dask worker processes, each writing its share (made in the worker first)."""
    share = -(-items // workers)
    futures = [client.submit(one_process, url, name, share, options, index * share, pure=False,
                             workers=[address])
               for index, address in enumerate(sorted(client.scheduler_info()["workers"])[:workers])]
    figures: list[Figure] = client.gather(futures)
    # the wall rate over the longest worker's write (they overlap; their book generation left out)
    return Figure(sum(f.items for f in figures), sum(f.cpu_seconds for f in figures), max(f.seconds for f in figures))


def best(figures: Sequence[Figure]) -> Figure:
    return max(figures, key=lambda figure: figure.per_core)


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}


def main() -> None:
    from core.run.scaleout import dask_client

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6000, help="items per run for the PutItem writers")
    parser.add_argument("--batch-items", type=int, default=30_000, help="items per run for the batch writers")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Dask worker processes")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--approaches", default=",".join(WRITERS))
    parser.add_argument("--no-write", action="store_true", help=f"print only; leave {CEILING_FILE.name} as it is")
    args = parser.parse_args()
    names = [name.strip() for name in args.approaches.split(",") if name.strip()]
    unknown = [name for name in names if name not in WRITERS]
    if unknown or args.items < 1 or args.batch_items < 1 or args.workers < 1 or args.repeat < 1:
        parser.error(f"unknown writer(s) {', '.join(unknown)} (writers: {', '.join(WRITERS)})" if unknown
                     else "--items, --batch-items, --workers and --repeat must be at least 1")
    options = WriterOptions(concurrency=args.concurrency)
    rows: dict[str, dict[str, int]] = {}
    load = os.getloadavg()[0]  # a busy machine lowers every figure: the file says how busy it was
    print(f"client ceiling: items/s per client core against an instant local server (no engine), concurrency "
          f"{options.concurrency}, threads {options.threads}; best of {args.repeat}; {args.workers} Dask workers")
    print(f"{'approach':<28} {'1 process':>10} {'wall/s':>8} {f'{args.workers} procs':>10} {'wall/s':>8} "
          f"{'cores for 40k/s':>16}")
    with instant_server() as url, dask_client(args.workers) as client:
        client.wait_for_workers(args.workers, timeout=120)
        for name in names:
            reason = APPROACHES[name].unavailable
            if reason is not None:
                print(f"{name:<28} unavailable: {reason}")
                continue
            items = args.batch_items if APPROACHES[name].batch else args.items
            try:
                one = best([one_process(url, name, items, options) for _ in range(args.repeat)])
                many = best([processes(client, url, name, items, args.workers, options)
                             for _ in range(args.repeat)])
            except RuntimeError as error:
                print(f"{name:<28} failed: {error}")
                continue
            row = {"one_process": round(one.per_core), "processes": round(many.per_core),
                   "one_process_wall": round(one.wall_rate), "processes_wall": round(many.wall_rate)}
            rows[name] = row
            per_core = min(one.per_core, many.per_core)
            print(f"{name:<28} {one.per_core:>10,.0f} {one.wall_rate:>8,.0f} {many.per_core:>10,.0f} "
                  f"{many.wall_rate:>8,.0f} {cores_for(QUOTA_ITEMS_S, per_core):>16}")
    if args.no_write or not rows:
        return
    ceiling = ClientCeiling(
        items_per_core_s={name: float(min(row["one_process"], row["processes"])) for name, row in rows.items()},
        measured=dt.date.today().isoformat(), machine=machine(),
        conditions=(f"an instant local server (no engine, 127.0.0.1), seeded books of about 100 bytes, concurrency "
                    f"{options.concurrency}, threads {options.threads}, 1 process and {args.workers} Dask workers "
                    f"(the lower of the two per core), best of {args.repeat}; load average {load:.1f} before the "
                    "run"),
        details=rows)
    CEILING_FILE.write_text(json.dumps(ceiling.as_dict(), indent=1) + "\n")
    print(f"\nwritten to {CEILING_FILE} (the planner's client ceiling); 40,000 items/s takes "
          + ", ".join(f"{name} {cores_for(QUOTA_ITEMS_S, value)}" for name, value in
                      sorted(ceiling.items_per_core_s.items(), key=lambda item: -item[1])[:4])
          + " cores")


if __name__ == "__main__":
    main()
