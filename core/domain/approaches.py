"""The approaches the lab compares: the one registry every other module reads.

Pure facts, no I/O and no heavy imports; adding an approach touches this file and its transport only. Two drivers do
not write: ``imports(name)`` runs through ``core.run.importer``, ``bulk_puts(name)`` through ``core.run.bulkput``.
The as-shipped approaches (``shipped``) use a library's own retries, not the lab's loop, so they are not the fair
comparison: show them with ``label``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Literal, get_args

from core.domain.errors import ConfigError, did_you_mean
from core.domain.s3source import BOOK_US, PREPARE_US

Driver = Literal["sequential", "threaded", "async", "import", "bulk"]  # import, bulk: not writers (core.run.importer,
# core.run.bulkput)
Client = Literal["boto3", "aiohttp", "aiobotocore", "aws-sdk", "aiodynamo", "pynamodb", "awswrangler"]
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
    floor_ms: float  # the estimate's priors (ms): wall time per request at the default parallelism, and one request
    round_trip_ms: float  # alone, on the embedded dynalite with no added latency (python -m bench.priors, below)
    study_2022_seconds: float | None = None  # the 2022 study's figure on real AWS for 10,000 books, if it ran it
    requires_python: tuple[int, int] = (3, 11)
    package: str | None = None  # the PyPI package its client comes from, when not one every approach needs
    extra: str | None = None  # how to install ``package`` when it is an optional extra (not in requirements.txt)
    shipped: str | None = None  # as shipped: the library's own retries, in one line (None: the lab's retry loop)

    @property
    def label(self) -> str:
        """The name every view shows: an as-shipped approach says so."""
        return f"{self.name} (as shipped)" if self.shipped else self.name

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
            how = self.extra or "run ./lab.sh setup"
            return f"{self.name} needs the {self.package} package, which is not installed: {how}"
        return None


# Priors measured with python -m bench.priors on 2026-12-06: a quiet 2-core x86_64 machine, CPython 3.13, median of 3
# plans each (2,000 books, batches 5,000; alone: a fifth of that). A user's own fault-free runs calibrate them.
_ALL = (
    Approach("sequential", "sequential", "boto3", False, "SyncBooks",
             "boto3 put_item in a loop (the study's baseline)", 1.3, 1.2, 832.65),
    Approach("threaded", "threaded", "boto3", False, "ThreadedBooks",
             "boto3 put_item via loop.run_in_executor on a thread pool", 1.4, 1.6, 71.23),
    Approach("async", "async", "aiohttp", False, "AsyncBooks",
             "aiohttp + hand-written SigV4 against the JSON API", 0.15, 0.5, 11.06),
    Approach("sequential-batch", "sequential", "boto3", True, "SyncBatchBooks",
             "boto3 batch_write_item (25 per request) in a loop", 3.1, 3.2),
    Approach("threaded-batch", "threaded", "boto3", True, "ThreadedBatchBooks",
             "boto3 batch_write_item via loop.run_in_executor", 2.8, 3.9),
    Approach("async-batch", "async", "aiohttp", True, "AsyncBatchBooks",
             "aiohttp + hand-written SigV4, BatchWriteItem", 1.3, 1.7),
    Approach("aiobotocore", "async", "aiobotocore", False, "AiobotocoreBooks",
             "aiobotocore put_item, bounded concurrency", 0.9, 1.3),
    Approach("aiobotocore-batch", "async", "aiobotocore", True, "AiobotocoreBatchBooks",
             "aiobotocore batch_write_item, bounded concurrency", 2.2, 4.3),
    Approach("aws-sdk", "async", "aws-sdk", False, "AwsSdkBooks",
             "the official async AWS SDK (aws-sdk-dynamodb) PutItem, its retries off", 1.0, 1.3,
             requires_python=(3, 12), package="aws-sdk-dynamodb"),
    Approach("aws-sdk-batch", "async", "aws-sdk", True, "AwsSdkBatchBooks",
             "the official async AWS SDK BatchWriteItem, its retries off", 2.3, 3.4,
             requires_python=(3, 12), package="aws-sdk-dynamodb"),
    Approach("aiodynamo", "async", "aiodynamo", False, "AiodynamoBooks",
             "aiodynamo (its own signer, over aiohttp) PutItem, its retries off", 0.26, 0.58,
             package="aiodynamo"),
    Approach("aiodynamo-batch", "async", "aiodynamo", True, "AiodynamoBatchBooks",
             "aiodynamo BatchWriteItem, its retries off", 1.3, 2.0, package="aiodynamo"),
    # as shipped: each library called as its documentation shows, its own retries at their defaults (core/writers/
    # shipped.py says which at run time)
    Approach("boto3-batch-writer", "sequential", "boto3", True, "BatchWriterBooks",
             "boto3 Table.batch_writer(), as shipped: unprocessed items resent at once, botocore's default retries",
             3.6, 4.3, shipped="botocore's retries as configured (default: legacy mode, 10 attempts per call for "
                               "DynamoDB); UnprocessedItems resent at once, no backoff, no limit"),
    Approach("boto3-batch-writer-threaded", "threaded", "boto3", True, "BatchWriterThreadedBooks",
             "one boto3 batch_writer() per thread (AWS's pattern for parallel loads), as shipped", 3.4, 4.7,
             shipped="botocore's retries as configured (default: legacy mode, 10 attempts per call for DynamoDB); "
                     "UnprocessedItems resent at once, no backoff, no limit; one writer per thread"),
    Approach("pynamodb-batch", "sequential", "pynamodb", True, "PynamoBooks",
             "a PynamoDB Model and Model.batch_write(), as shipped", 3.4, 5.3, package="pynamodb",
             shipped="PynamoDB's: botocore standard mode, 4 attempts per call (max_retry_attempts 3); "
                     "UnprocessedItems resent at once, PutError after 3 rounds"),
    Approach("awswrangler", "threaded", "awswrangler", True, "WranglerBooks",
             "awswrangler wr.dynamodb.put_items (a list of dicts), as shipped", 3.2, 3.3, package="awswrangler",
             extra="an optional extra (it brings pandas and pyarrow): pip install awswrangler==3.17.1, or ./lab.sh "
                   "setup dev",
             shipped="awswrangler's: botocore max_attempts 5 (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE honoured); "
                     "UnprocessedItems resent at once, no backoff; os.cpu_count() threads"),
    # not a writer: books streamed to S3 as gzipped DynamoDB JSON, then ImportTable creates the table (no write
    # capacity used). Priors: floor = client CPU per book (generate, encode, gzip: core.domain.s3source's measured
    # figures); round_trip = one S3 PUT of a part, alone (moto, 127.0.0.1)
    Approach("s3-import", "import", "boto3", False, "ImportedBooks",
             "books to S3 as gzipped DynamoDB JSON, then ImportTable creates a new table",
             (BOOK_US + PREPARE_US) / 1000, 60.0),
    # not a writer either: the same S3 parts, then StartBulkPutItems writes them into the existing (reset) table,
    # called with the lab's own SigV4 signer (core.run.bulkput); offline, the lab's proxy emulates the operation
    Approach("bulk-put", "bulk", "boto3", False, "BulkPutBooks",
             "books to S3 as gzipped DynamoDB JSON, then StartBulkPutItems loads the existing table",
             (BOOK_US + PREPARE_US) / 1000, 60.0),
)
APPROACHES: dict[str, Approach] = {a.name: a for a in _ALL}
WRITERS: tuple[str, ...] = tuple(a.name for a in _ALL if a.driver not in ("import", "bulk"))  # core.writers.write's
STUDY_APPROACHES: tuple[str, ...] = tuple(a.name for a in _ALL if a.study_2022_seconds is not None)
STUDY_2022_ITEMS = 10_000
STUDY_2022_SECONDS: dict[str, float] = {a.name: a.study_2022_seconds for a in _ALL if a.study_2022_seconds}
TABLES: frozenset[str] = frozenset(a.table for a in _ALL)
SHIPPED: tuple[str, ...] = tuple(a.name for a in _ALL if a.shipped)  # as shipped: the libraries' own retries
LAB_WRITERS: tuple[str, ...] = tuple(name for name in WRITERS if name not in SHIPPED)  # the lab's loop: the fair ones


def approach(name: str) -> Approach:
    """The approach called ``name``; ``ConfigError`` naming the choices otherwise."""
    try:
        return APPROACHES[name]
    except KeyError:
        raise ConfigError(f"unknown approach {name!r}{did_you_mean(name, APPROACHES)}: choose from "
                          f"{', '.join(APPROACHES)}") from None


def label(name: str) -> str:
    """The name to show for approach ``name``: "(as shipped)" after an as-shipped one; an unknown name as it is (a
    stored report may name an approach this version no longer has)."""
    chosen = APPROACHES.get(name)
    return chosen.label if chosen is not None else name


def parallelism(chosen: Approach, threads: int, concurrency: int) -> int:
    """Requests one run of ``chosen`` keeps in flight: 1, the threads or the async concurrency."""
    return {"sequential": 1, "threaded": threads, "async": concurrency, "import": 1, "bulk": 1}[chosen.driver]


def imports(name: str) -> bool:
    """The approach is an import from S3 (``core.run.importer``), not a writer."""
    return APPROACHES[name].driver == "import"


def bulk_puts(name: str) -> bool:
    """The approach is DynamoDB's bulk put from S3 into an existing table (``core.run.bulkput``), not a writer."""
    return APPROACHES[name].driver == "bulk"
