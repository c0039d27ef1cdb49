"""The approaches the lab compares, by their fixed names, and one entry point to run any of them.

Contract: ``write(approach, books, target, options)`` consumes the book stream lazily, writes it to the
approach's table (which must exist) and returns a frozen ``RunReport``; DynamoDB and network errors end up in
the report (items failed or unknown), never as exceptions. ``write_async`` is the same for the event-loop
approaches, cancellable without leaving a task behind.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from core.books import Book
from core.errors import ConfigError
from core.report import RunReport
from core.retry import RetryPolicy
from core.tables import TABLES
from core.targets import Target
from core.writers.engine import ProgressCallback, Tally, run_async, run_sequential, run_threaded, works
from core.writers.transports import AiohttpSender, BotocoreMeter, CredentialCache, aiobotocore_sender, boto3_sender

STUDY_APPROACHES = ("sequential", "threaded", "async")


@dataclass(frozen=True)
class Approach:
    name: str
    driver: str  # "sequential" | "threaded" | "async"
    client: str  # "boto3" | "aiohttp" | "aiobotocore"
    batch: bool
    table: str
    description: str


APPROACHES: dict[str, Approach] = {a.name: a for a in (
    Approach("sequential", "sequential", "boto3", False, TABLES["sequential"],
             "boto3 put_item in a loop (the study's baseline)"),
    Approach("threaded", "threaded", "boto3", False, TABLES["threaded"],
             "boto3 put_item via loop.run_in_executor on a thread pool"),
    Approach("async", "async", "aiohttp", False, TABLES["async"],
             "aiohttp + hand-written SigV4 against the JSON API"),
    Approach("sequential-batch", "sequential", "boto3", True, TABLES["sequential-batch"],
             "boto3 batch_write_item (25 per request) in a loop"),
    Approach("threaded-batch", "threaded", "boto3", True, TABLES["threaded-batch"],
             "boto3 batch_write_item via loop.run_in_executor"),
    Approach("async-batch", "async", "aiohttp", True, TABLES["async-batch"],
             "aiohttp + hand-written SigV4, BatchWriteItem"),
    Approach("aiobotocore", "async", "aiobotocore", False, TABLES["aiobotocore"],
             "aiobotocore put_item, bounded concurrency"),
    Approach("aiobotocore-batch", "async", "aiobotocore", True, TABLES["aiobotocore-batch"],
             "aiobotocore batch_write_item, bounded concurrency"),
)}


def default_threads() -> int:
    """ThreadPoolExecutor's default worker count, which the study ran with."""
    return min(32, (os.cpu_count() or 1) + 4)


@dataclass(frozen=True)
class WriterOptions:
    threads: int = field(default_factory=default_threads)
    concurrency: int = 100  # aiohttp's default connection limit, which the study ran with
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout: float = 10.0
    cancel: threading.Event | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= 512:
            raise ConfigError(f"threads must be between 1 and 512, got {self.threads}")
        if not 1 <= self.concurrency <= 4096:
            raise ConfigError(f"concurrency must be between 1 and 4096, got {self.concurrency}")
        if not 0.1 <= self.request_timeout <= 300:
            raise ConfigError(f"request timeout must be between 0.1 and 300 s, got {self.request_timeout}")


def approach(name: str) -> Approach:
    try:
        return APPROACHES[name]
    except KeyError:
        raise ConfigError(f"unknown approach {name!r}: choose from {', '.join(APPROACHES)}") from None


def write(name: str, books: Iterable[Book], target: Target, options: WriterOptions | None = None,
          progress: ProgressCallback | None = None, table: str | None = None) -> RunReport:
    """Write ``books`` with approach ``name``; blocks until every item is settled."""
    chosen, options = approach(name), options or WriterOptions()
    if chosen.driver == "sequential":
        return _write_sequential(chosen, books, target, options, progress, table or chosen.table)
    return run_loop(write_async(name, books, target, options, progress, table))


def run_loop(coroutine: Coroutine[Any, Any, RunReport]) -> RunReport:
    """Run on uvloop where it is installed (about 5% less client CPU per request, see README), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


async def write_async(name: str, books: Iterable[Book], target: Target, options: WriterOptions | None = None,
                      progress: ProgressCallback | None = None, table: str | None = None) -> RunReport:
    """Write ``books`` with an event-loop approach (threaded, async, aiobotocore, and their batch variants)."""
    chosen, options = approach(name), options or WriterOptions()
    table = table or chosen.table
    tally = Tally(chosen.name, table, progress, options.cancel)
    units = works(books, chosen.batch, tally)
    policy, attempts = options.policy, options.policy.max_attempts
    if chosen.client == "boto3":
        client = target.client(pool=options.threads, max_attempts=attempts, timeout=options.request_timeout)
        BotocoreMeter(tally).attach(client)
        with _Stopwatch(tally) as measure:
            await run_threaded(units, boto3_sender(client, table, attempts), policy, tally, options.threads)
        return measure.report
    if chosen.client == "aiobotocore":
        async with _aiobotocore_client(target, options) as client:
            BotocoreMeter(tally).attach(client)
            with _Stopwatch(tally) as measure:
                await run_async(units, aiobotocore_sender(client, table, attempts), policy, tally,
                                options.concurrency)
        return measure.report
    url = target.resolved_endpoint()
    credentials = CredentialCache(target.credentials_provider())
    connector = aiohttp.TCPConnector(limit=options.concurrency, limit_per_host=0, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        send = AiohttpSender(session, url, table, target.region, credentials, tally, options.request_timeout)
        with _Stopwatch(tally) as measure:
            await run_async(units, send, policy, tally, options.concurrency)
    return measure.report


def _write_sequential(chosen: Approach, books: Iterable[Book], target: Target, options: WriterOptions,
                      progress: ProgressCallback | None, table: str) -> RunReport:
    tally = Tally(chosen.name, table, progress, options.cancel)
    attempts = options.policy.max_attempts
    client = target.client(pool=1, max_attempts=attempts, timeout=options.request_timeout)
    BotocoreMeter(tally).attach(client)
    with _Stopwatch(tally) as measure:
        run_sequential(works(books, chosen.batch, tally),
                       boto3_sender(client, table, attempts), options.policy, tally)
    return measure.report


class _Stopwatch:
    """Times a run (wall clock and this process's CPU) and freezes the tally into ``self.report``."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.report: RunReport

    def __enter__(self) -> _Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.tally.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.report = self.tally.report(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def _aiobotocore_client(target: Target, options: WriterOptions) -> Any:
    """aiobotocore's client for the target: the same config; typed or local keys, else its own default chain
    (which refreshes temporary credentials as botocore does)."""
    from aiobotocore.session import AioSession

    config = target.client_config(pool=options.concurrency, max_attempts=options.policy.max_attempts,
                                  timeout=options.request_timeout)
    if target.uses_default_chain:
        return AioSession(profile=target.profile).create_client(
            "dynamodb", region_name=target.region, endpoint_url=target.endpoint_url, config=config)
    creds = target.credentials()
    return AioSession().create_client("dynamodb", region_name=target.region, endpoint_url=target.endpoint_url,
                                      aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                                      aws_session_token=creds.token, config=config)
