"""One entry point to run any writing approach of the registry with its driver and transport.

``write(approach, books, target, options)`` consumes the books lazily into the approach's table (which must exist) and
returns a frozen ``RunReport``: DynamoDB and network errors become failed or unknown items, never exceptions.
``write_async`` is the same for event-loop approaches, cancellable without leaving a task behind. All retry through
``exchange`` (the libraries' own retries are off), except the as-shipped approaches (``core.writers.shipped``).
s3-import and bulk-put are refused with ``ConfigError``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from core.domain.approaches import APPROACHES, STUDY_APPROACHES, WRITERS, Approach, approach, parallelism
from core.domain.books import Book
from core.domain.errors import ConfigError
from core.domain.limits import default_threads
from core.domain.plan import RetryMode, validate_knobs
from core.domain.results import RunReport
from core.targets.target import Target
from core.wire.ratecontrol import AdaptiveRate
from core.wire.retry import CircuitBreaker, RetryPolicy, hung_after
from core.writers.exchange import ProgressCallback, Tally, run_async, run_sequential, run_threaded, works
from core.writers.peers import TRANSPORTS as PEER_TRANSPORTS
from core.writers.transports import AiohttpSender, BotocoreMeter, CredentialCache, aiobotocore_sender, boto3_sender

__all__ = ["APPROACHES", "STUDY_APPROACHES", "WRITERS", "Approach", "WriterOptions", "default_threads", "write",
           "write_async"]


@dataclass(frozen=True)
class WriterOptions:
    threads: int = field(default_factory=default_threads)
    concurrency: int = 100  # aiohttp's default connection limit, which the study ran with
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout: float = 10.0
    cancel: threading.Event | None = field(default=None, compare=False)  # the run's stop signal
    retry_mode: RetryMode = "standard"  # adaptive: botocore's for botocore clients, the lab's AdaptiveRate otherwise

    def __post_init__(self) -> None:
        validate_knobs(self.threads, self.concurrency, self.request_timeout)


def _tally(chosen: Approach, table: str, options: WriterOptions, progress: ProgressCallback | None) -> Tally:
    """The run's tally, around the caller's stop signal, with a circuit breaker sized to the approach."""
    breaker = CircuitBreaker(parallel=parallelism(chosen, options.threads, options.concurrency),
                             silence=hung_after(options.request_timeout))
    rate = AdaptiveRate() if options.retry_mode == "adaptive" and not chosen.botocore else None
    return Tally(chosen.name, table, progress, options.cancel or threading.Event(), breaker, rate)


def write(name: str, books: Iterable[Book], target: Target, options: WriterOptions | None = None,
          progress: ProgressCallback | None = None, table: str | None = None) -> RunReport:
    """Write ``books`` with approach ``name``; blocks until every item is settled."""
    chosen, options = _writer(name), options or WriterOptions()
    if chosen.shipped:
        return _write_shipped(chosen, books, target, options, progress, table or chosen.table)
    if chosen.driver == "sequential":
        return _write_sequential(chosen, books, target, options, progress, table or chosen.table)
    return run_loop(write_async(name, books, target, options, progress, table))


def _writer(name: str) -> Approach:
    """The approach called ``name`` when it writes; s3-import is run by ``core.run.importer`` (it needs S3)."""
    chosen = approach(name)
    if chosen.name not in WRITERS:
        raise ConfigError(f"{name} is not a writer: run it in a plan (core.run.runner.run) or with "
                          "core.run.importer.run_import, which take its S3 bucket")
    return chosen


def run_loop(coroutine: Coroutine[Any, Any, RunReport]) -> RunReport:
    """Run on uvloop where it is installed (about 5% less client CPU per request: docs/performance.md), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


async def write_async(name: str, books: Iterable[Book], target: Target, options: WriterOptions | None = None,
                      progress: ProgressCallback | None = None, table: str | None = None) -> RunReport:
    """Write ``books`` with an event-loop approach (threaded, async, aiobotocore, aws-sdk, aiodynamo, and their batch
    variants)."""
    chosen, options = _writer(name), options or WriterOptions()
    table = table or chosen.table
    if chosen.shipped:  # the libraries block: in a thread, so the event loop stays free
        return await asyncio.to_thread(_write_shipped, chosen, books, target, options, progress, table)
    tally = _tally(chosen, table, options, progress)
    units = works(books, chosen.batch, tally)
    policy = options.policy
    if chosen.client == "boto3":
        client = target.client(pool=options.threads, timeout=options.request_timeout, mode=options.retry_mode)
        BotocoreMeter(tally).attach(client)
        with _Stopwatch(tally) as measure:
            await run_threaded(units, boto3_sender(client, table), policy, tally, options.threads)
        return measure.report
    if chosen.client == "aiobotocore":
        async with _aiobotocore_client(target, options) as client:
            BotocoreMeter(tally).attach(client)
            with _Stopwatch(tally) as measure:
                await run_async(units, aiobotocore_sender(client, table), policy, tally, options.concurrency)
        return measure.report
    if chosen.client in PEER_TRANSPORTS:  # aws-sdk, aiodynamo: ConfigError with the reason when unavailable
        async with PEER_TRANSPORTS[chosen.client](target, table, tally, concurrency=options.concurrency,
                                                  timeout=options.request_timeout) as peer:
            with _Stopwatch(tally) as measure:
                await run_async(units, peer, policy, tally, options.concurrency)
        return measure.report
    url = target.resolved_endpoint()
    credentials = CredentialCache(target.credentials_provider())
    connector = aiohttp.TCPConnector(limit=options.concurrency, limit_per_host=0, ttl_dns_cache=300,
                                     ssl=target.ssl_context())
    session = aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=target.trust_env_proxy)
    async with session, AiohttpSender(session, url, table, target.region, credentials, tally,
                                      options.request_timeout) as send:
        with _Stopwatch(tally) as measure:
            await run_async(units, send, policy, tally, options.concurrency)
    return measure.report


def _write_sequential(chosen: Approach, books: Iterable[Book], target: Target, options: WriterOptions,
                      progress: ProgressCallback | None, table: str) -> RunReport:
    tally = _tally(chosen, table, options, progress)
    client = target.client(pool=1, timeout=options.request_timeout, mode=options.retry_mode)
    BotocoreMeter(tally).attach(client)
    with _Stopwatch(tally) as measure:
        run_sequential(works(books, chosen.batch, tally), boto3_sender(client, table), options.policy, tally)
    return measure.report


def _write_shipped(chosen: Approach, books: Iterable[Book], target: Target, options: WriterOptions,
                   progress: ProgressCallback | None, table: str) -> RunReport:
    from core.writers.shipped import write_shipped  # loads PynamoDB or awswrangler only when one runs

    return write_shipped(chosen, books, target, options.threads, table, progress, options.cancel or threading.Event())


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

    config = target.client_config(pool=options.concurrency, timeout=options.request_timeout,
                                  mode=options.retry_mode)
    if target.uses_default_chain:
        return AioSession(profile=target.profile).create_client(
            "dynamodb", region_name=target.region, endpoint_url=target.endpoint_url, config=config,
            verify=target.trusted_ca)
    creds = target.credentials()
    return AioSession().create_client("dynamodb", region_name=target.region, endpoint_url=target.endpoint_url,
                                      aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                                      aws_session_token=creds.token, config=config, verify=target.trusted_ca)
