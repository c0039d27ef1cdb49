"""The approaches the lab compares: one registry, the only list of them.

Contract: pure facts, no I/O and no heavy imports. Each ``Approach`` owns its name, table, driver, client, batch
flag, the client's estimated cost per request and, for the study's three, the 2022 study's published seconds.
Every other module (plan validation, writers, tables, estimate, charts, page, CLI) reads this registry, so adding an
approach touches this file and its transport only. ``Driver`` and ``Client`` are ``Literal`` types: mypy checks
every table keyed by them.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Literal, get_args

from core.errors import ConfigError

Driver = Literal["sequential", "threaded", "async"]
Client = Literal["boto3", "aiohttp", "aiobotocore", "aws-sdk", "aiodynamo"]
DRIVERS: tuple[Driver, ...] = get_args(Driver)
CLIENTS: tuple[Client, ...] = get_args(Client)


@dataclass(frozen=True)
class Approach:
    """One way of writing, as the lab runs it."""

    name: str
    driver: Driver
    client: Client
    batch: bool
    table: str
    description: str
    client_ms: float  # client CPU per request on this kind of machine (the estimate's prior), ms
    study_2022_seconds: float | None = None  # the 2022 study's figure on real AWS for 10,000 books, if it ran it
    requires_python: tuple[int, int] = (3, 11)
    package: str | None = None  # the PyPI package its client comes from, when not one every approach needs

    @property
    def module(self) -> str | None:
        """The top-level module ``package`` installs (its name with ``-`` as ``_``)."""
        return self.package.replace("-", "_") if self.package else None

    @property
    def botocore(self) -> bool:
        """Built on botocore (its adaptive retry mode, not the lab's rate control, applies in adaptive mode)."""
        return self.client in ("boto3", "aiobotocore")

    @property
    def unavailable(self) -> str | None:
        """Why this approach cannot run on this interpreter (one line), or None when it can."""
        if sys.version_info[:2] < self.requires_python:
            need = ".".join(map(str, self.requires_python))
            return (f"{self.name} needs Python {need}+ (this is {sys.version.split()[0]}): run the lab with Python "
                    f"{need}+ (./lab.sh picks the newest it finds)")
        if self.module and importlib.util.find_spec(self.module) is None:
            return f"{self.name} needs the {self.package} package, which is not installed: run ./lab.sh setup"
        return None


_ALL = (
    Approach("sequential", "sequential", "boto3", False, "SyncBooks",
             "boto3 put_item in a loop (the study's baseline)", 0.9, 832.65),
    Approach("threaded", "threaded", "boto3", False, "ThreadedBooks",
             "boto3 put_item via loop.run_in_executor on a thread pool", 0.9, 71.23),
    Approach("async", "async", "aiohttp", False, "AsyncBooks",
             "aiohttp + hand-written SigV4 against the JSON API", 0.25, 11.06),
    Approach("sequential-batch", "sequential", "boto3", True, "SyncBatchBooks",
             "boto3 batch_write_item (25 per request) in a loop", 2.7),
    Approach("threaded-batch", "threaded", "boto3", True, "ThreadedBatchBooks",
             "boto3 batch_write_item via loop.run_in_executor", 2.7),
    Approach("async-batch", "async", "aiohttp", True, "AsyncBatchBooks",
             "aiohttp + hand-written SigV4, BatchWriteItem", 0.75),
    Approach("aiobotocore", "async", "aiobotocore", False, "AiobotocoreBooks",
             "aiobotocore put_item, bounded concurrency", 0.7),
    Approach("aiobotocore-batch", "async", "aiobotocore", True, "AiobotocoreBatchBooks",
             "aiobotocore batch_write_item, bounded concurrency", 2.1),
    # client_ms of the peers: bench/floor.py's CPU ratios (same run) applied to aiobotocore's and async's priors
    Approach("aws-sdk", "async", "aws-sdk", False, "AwsSdkBooks",
             "the official async AWS SDK (aws-sdk-dynamodb) PutItem, its retries off", 1.1,
             requires_python=(3, 12), package="aws-sdk-dynamodb"),
    Approach("aws-sdk-batch", "async", "aws-sdk", True, "AwsSdkBatchBooks",
             "the official async AWS SDK BatchWriteItem, its retries off", 1.5,
             requires_python=(3, 12), package="aws-sdk-dynamodb"),
    Approach("aiodynamo", "async", "aiodynamo", False, "AiodynamoBooks",
             "aiodynamo (its own signer, over aiohttp) PutItem, its retries off", 0.46, package="aiodynamo"),
    Approach("aiodynamo-batch", "async", "aiodynamo", True, "AiodynamoBatchBooks",
             "aiodynamo BatchWriteItem, its retries off", 1.55, package="aiodynamo"),
)
APPROACHES: dict[str, Approach] = {a.name: a for a in _ALL}
STUDY_APPROACHES: tuple[str, ...] = tuple(a.name for a in _ALL if a.study_2022_seconds is not None)
STUDY_2022_ITEMS = 10_000
STUDY_2022_SECONDS: dict[str, float] = {a.name: a.study_2022_seconds for a in _ALL if a.study_2022_seconds}
TABLES: frozenset[str] = frozenset(a.table for a in _ALL)


def approach(name: str) -> Approach:
    """The approach called ``name``; ``ConfigError`` naming the choices otherwise."""
    try:
        return APPROACHES[name]
    except KeyError:
        raise ConfigError(f"unknown approach {name!r}: choose from {', '.join(APPROACHES)}") from None


def parallelism(chosen: Approach, threads: int, concurrency: int) -> int:
    """Requests one run of ``chosen`` keeps in flight: 1, the threads or the async concurrency."""
    return {"sequential": 1, "threaded": threads, "async": concurrency}[chosen.driver]
