"""The s3-import approach's pure side: books as gzipped DynamoDB JSON parts, their S3 keys, the cost, where it runs.

No I/O, no heavy imports (the runner is ``core.run.importer``). ``parts(books, part_bytes)`` is lazy: memory holds one
compressed part, never the list of books. Every caller sizes parts with ``part_bytes_for``; the measured figures of
the seeded books' lines live here once. ``runs_on(kind)`` says which server runs ImportTable for a target,
``needs_bucket`` whether the user must name the bucket.
"""

from __future__ import annotations

import gzip
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from core.domain.endpoints import Kind, off_machine
from core.domain.errors import ConfigError

if TYPE_CHECKING:
    from core.domain.books import (
        Book,  # only its type: this module stays light enough for core.domain.approaches to import
    )

PART_BYTES = 64 * 2**20  # uncompressed DynamoDB JSON per S3 object: about 13 MB gzipped; 1e9 books in ~2,300 objects
MAX_OBJECTS = 50_000  # ImportTable reads at most this many S3 objects (AWS's published limit)
COMPRESS_LEVEL = 6  # GZIP_RATIO below; level 1 measured about twice as fast at a ratio of 0.23
# Measured here (seed 0, 20,000 books, CPython 3.11, this 2-core machine, 2026-11-29); the planner, the estimate and
# the approach's prior read them from here.
SEEDED_LINE_BYTES = 153  # mean DynamoDB JSON line of a seeded book: 152.6 bytes
SEEDED_ITEM_BYTES = 94  # mean DynamoDB size of a seeded book (4 string attributes: names and values)
# DynamoDB JSON's wrapping: {"Item":{...}} (11 bytes a line) and {"S":...} around every attribute (12 bytes each)
LINE_OVERHEAD_BYTES = SEEDED_LINE_BYTES - SEEDED_ITEM_BYTES
GZIP_RATIO = 0.195  # compressed / uncompressed bytes of the seeded books' lines at COMPRESS_LEVEL
PREPARE_US = 5.5  # CPU to encode one SEEDED_LINE_BYTES line (orjson) and gzip it: 5.2 to 6.0 us in four runs
BOOK_US = 18.5  # CPU to generate one seeded book (core.domain.books, Faker): an import's client pays both per book
DEFAULT_PREFIX = "dynamodb-lab/"
# Targets whose engine has no ImportTable (dynalite 4.0.0, DynamoDB Local 2026-05-28, LocalStack 2026.3.0 community:
# checked 2026-11-29); the lab runs the import on a moto server of its own for them.
DELEGATED: frozenset[Kind] = frozenset({"embedded", "dynamodb-local", "localstack"})
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def item_line(book: Book) -> bytes:
    """One book as a DynamoDB JSON line, as ``ImportTable`` reads it."""
    return orjson.dumps({"Item": book.to_item()}) + b"\n"


@dataclass(frozen=True)
class Part:
    """One S3 object's worth of books: a complete GZIP file of DynamoDB JSON lines."""

    index: int
    body: bytes  # gzipped
    items: int
    source_bytes: int  # uncompressed (what the import bills)


def parts(books: Iterable[Book], part_bytes: int = PART_BYTES, level: int = COMPRESS_LEVEL,
          line_of: Callable[[Book], bytes] = item_line) -> Iterator[Part]:
    """The books as GZIP parts of about ``part_bytes`` uncompressed each (the last one smaller), lazily; each book is
    the line ``line_of`` makes of it (``item_line``)."""
    if part_bytes < 1:
        raise ConfigError(f"part size must be at least 1 byte, got {part_bytes}")
    index = items = size = 0
    buffer = io.BytesIO()
    stream = gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=level, mtime=0)
    for book in books:
        line = line_of(book)
        stream.write(line)
        items, size = items + 1, size + len(line)
        if size >= part_bytes:
            stream.close()
            yield Part(index, buffer.getvalue(), items, size)
            index, items, size = index + 1, 0, 0
            buffer = io.BytesIO()
            stream = gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=level, mtime=0)
    stream.close()
    if items:
        yield Part(index, buffer.getvalue(), items, size)


@dataclass(frozen=True)
class S3Location:
    """Where a run's parts go: ``bucket`` and a key prefix (each run adds its own folder under it)."""

    bucket: str
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket", validate_bucket(self.bucket))
        object.__setattr__(self, "prefix", validate_prefix(self.prefix))

    def folder(self, run_id: str) -> str:
        """The key prefix of one run's parts (the import reads exactly these)."""
        return f"{self.prefix}{run_id}/"

    def key(self, run_id: str, index: int) -> str:
        return f"{self.folder(run_id)}part-{index:05d}.json.gz"

    def url(self, run_id: str) -> str:
        return f"s3://{self.bucket}/{self.folder(run_id)}"


BUCKET_RULES_URL = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")  # S3's general purpose bucket naming rules
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_problem(name: str) -> str | None:
    """The S3 naming rule ``name`` breaks, as "must ..." (None when S3 accepts it as a general purpose bucket's)."""
    if not isinstance(name, str) or not _BUCKET.fullmatch(name):
        return "must be 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
    if ".." in name:
        return "must not hold two dots in a row"
    if re.fullmatch(r"[0-9]+(\.[0-9]+){3}", name):
        return "must not be formatted as an IP address"
    reserved = next((p for p in _RESERVED_PREFIXES if name.startswith(p)), None)
    if reserved:
        return f"must not start with {reserved} (reserved by S3)"
    reserved = next((s for s in _RESERVED_SUFFIXES if name.endswith(s)), None)
    if reserved:
        return f"must not end with {reserved} (reserved by S3)"
    return None


def validate_bucket(name: str) -> str:
    problem = bucket_problem(name)
    if problem is not None:
        raise ConfigError(f"invalid S3 bucket name {name!r} (--s3-bucket): it {problem}; see {BUCKET_RULES_URL}")
    return name


def validate_prefix(prefix: str) -> str:
    """A key prefix ending in ``/`` (added when missing), without a leading ``/``; '' is the bucket's root."""
    if not isinstance(prefix, str) or prefix.startswith("/") or len(prefix) > 512 \
            or any(ord(c) < 32 or ord(c) == 127 for c in prefix):
        raise ConfigError(f"invalid S3 prefix {prefix!r}: a key prefix such as dynamodb-lab/ (no leading /, "
                          "printable, at most 512 characters) (--s3-prefix)")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


@dataclass(frozen=True)
class ImportCost:
    """What one import costs on AWS: the import itself (per GB of uncompressed source) and its S3 requests."""

    source_bytes: int
    objects: int
    import_usd: float
    requests_usd: float  # the lab's PUTs and the import's GETs (storage for the minutes it runs is negligible)

    @property
    def usd(self) -> float:
        return self.import_usd + self.requests_usd

    @property
    def gigabytes(self) -> float:
        return self.source_bytes / 2**30


def part_bytes_for(source_bytes: int) -> int:
    """The part size for ``source_bytes`` of uncompressed lines: ``PART_BYTES``, larger when ``MAX_OBJECTS`` parts
    of that size would not hold them (an import reads at most ``MAX_OBJECTS`` objects)."""
    return max(PART_BYTES, math.ceil(source_bytes / MAX_OBJECTS))


def even_part_bytes(source_bytes: int) -> int:
    """``part_bytes_for`` evened out: the same number of parts, each about the same size (a bulk put's best
    practice: similarly sized objects)."""
    count = objects_for(source_bytes)
    return max(1, math.ceil(source_bytes / count))


def objects_for(source_bytes: int, part_bytes: int | None = None) -> int:
    """The S3 objects ``source_bytes`` make in parts of ``part_bytes`` (default: ``part_bytes_for``)."""
    return max(1, math.ceil(source_bytes / (part_bytes or part_bytes_for(source_bytes))))


def import_cost(source_bytes: int, objects: int, price_per_gb: float, put_usd: float, get_usd: float) -> ImportCost:
    """The cost of importing ``source_bytes`` of uncompressed DynamoDB JSON held in ``objects`` S3 objects: each
    object is PUT once by the lab and read once (GET) by the import. GB here is 2**30 bytes, as AWS bills."""
    return ImportCost(source_bytes, objects, source_bytes / 2**30 * price_per_gb, objects * (put_usd + get_usd))


def needs_bucket(kind: Kind, endpoint_url: str | None, region: str) -> bool:
    """The user names the bucket: the import runs off this machine (AWS, a remote URL), where the lab never creates
    one; on this machine the lab uses a bucket of its own. The plan's check and the page's inputs both ask this."""
    return off_machine(kind, endpoint_url, region) is not None


def runs_on(kind: Kind) -> str | None:
    """The server that runs ImportTable for a target of ``kind`` when not the target itself (``moto``), else None."""
    return "moto" if kind in DELEGATED else None


def delegation_note(kind: Kind) -> str | None:
    """The one line the report, the page and the CLI show when the import did not run on the chosen engine."""
    if runs_on(kind) is None:
        return None
    return (f"s3-import ran on moto, not on {kind}: its duration is not representative; only AWS's figure is "
            f"({kind} has no ImportTable, so the lab runs the import on a moto server of its own)")
