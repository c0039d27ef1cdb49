"""The as-shipped approaches: boto3's ``batch_writer``, PynamoDB's ``batch_write`` and awswrangler's ``put_items``.

``write_shipped(...)`` lets each library batch, resend and retry its own way (``retry_settings`` says how); none of
the lab's retry loop, rate control or circuit breaker applies. Outcomes are observed through botocore's events: a
book is ok only once DynamoDB acknowledged it. When the library raises, the run ends (``RunReport.ended``): of the
books it was given, unanswered requests' are unknown and the rest not acknowledged failed; the books it never took
are not sent. Progress is per answered request; awswrangler cannot be stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from core.domain.approaches import Approach
from core.domain.books import Book
from core.domain.results import RunReport
from core.targets.target import Target
from core.wire.retry import CircuitBreaker
from core.writers.exchange import ProgressCallback, Step, Tally
from core.writers.transports import BotocoreMeter, transport_code, transport_failure

BATCH = "BatchWriteItem"
NOTHING_SENT = frozenset({"ConnectionRefused", "CertificateError", "TLSError"})  # no request left this machine


def never_opens() -> CircuitBreaker:
    """A breaker that never stops the run: the library alone decides when to give up."""
    return CircuitBreaker(first_failures=2**62, window=2**62, refusals=2**62, silence=float("inf"))


def _isbns(requests: Iterable[Any]) -> list[str]:
    """The partition keys of a BatchWriteItem's put requests, typed ({"S": ...}) or plain (before boto3's resource
    layer serialises them)."""
    keys = []
    for request in requests or ():
        key = ((request or {}).get("PutRequest") or {}).get("Item", {}).get("isbn")
        if isinstance(key, dict):
            key = key.get("S")
        if isinstance(key, str):
            keys.append(key)
    return keys


class Ledger:
    """What DynamoDB did with each book a library sent, seen through botocore's events (thread-safe).

    ``acknowledged``: written (a 200 answer that did not return it unprocessed); ``doubtful``: in a request one of
    whose attempts got no clear answer (no answer, a 5xx) and not acknowledged since: it may be written."""

    def __init__(self, table: str, tally: Tally, books: dict[str, Book]) -> None:
        self.table, self.tally, self.books = table, tally, books
        self.acknowledged: set[str] = set()
        self.doubtful: set[str] = set()
        self._sent: set[str] = set()
        self._lock = threading.Lock()

    def listen(self, events: Any) -> None:
        """Register on a botocore event emitter: a client's (``client.meta.events``), or a session's before its
        clients are made (they copy its handlers)."""
        BotocoreMeter(self.tally).listen(events)
        events.register_last("before-parameter-build.dynamodb", self._building)
        events.register(f"response-received.dynamodb.{BATCH}", self._attempted)
        events.register_first(f"after-call.dynamodb.{BATCH}", self._answered)

    def _building(self, params: dict[str, Any], context: dict[str, Any], model: Any = None, **_: Any) -> None:
        if getattr(model, "name", BATCH) != BATCH:  # e.g. awswrangler's DescribeTable: one request, not a retry
            self.tally.begin()
            return
        keys = _isbns((params.get("RequestItems") or {}).get(self.table, ()))
        context["lab_keys"] = keys
        with self._lock:
            resend = any(key in self._sent for key in keys)
            self._sent.update(keys)
        if not resend:  # a call that resends any book (UnprocessedItems) counts as a retry, as botocore's attempts do
            self.tally.begin()

    def _attempted(self, context: dict[str, Any], exception: Exception | None,
                   response_dict: dict[str, Any] | None = None, **_: Any) -> None:
        status = int((response_dict or {}).get("status_code") or 0)
        unsent = exception is not None and transport_code(exception) in NOTHING_SENT
        if (exception is not None and not unsent) or status >= 500:
            with self._lock:
                self.doubtful.update(context.get("lab_keys", ()))

    def _answered(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if getattr(http_response, "status_code", 0) != 200:
            return
        keys = context.get("lab_keys", ())
        held = set(_isbns(((parsed or {}).get("UnprocessedItems") or {}).get(self.table, ())))
        with self._lock:
            written = [key for key in keys if key not in held and key not in self.acknowledged]
            self.acknowledged.update(written)
            self.doubtful.difference_update(written)
        self.tally.record(Step(done=tuple(self.books[key] for key in written if key in self.books)))

    def settle(self, given: Iterable[str], ended: BaseException | None, stopped: bool) -> None:
        """Account every book handed to the library that is not acknowledged: unknown when in doubt, else failed,
        with the reason (the exception that ended the run, or the stop)."""
        with self._lock:
            rest = [key for key in given if key not in self.acknowledged]
            doubt = self.doubtful.copy()
        if not rest:
            return
        cause = _ending(ended) if ended is not None else \
            "the run was stopped" if stopped else "the library returned without writing them"
        unknown = tuple(self.books[key] for key in rest if key in doubt)
        failed = tuple(self.books[key] for key in rest if key not in doubt)
        if unknown:
            self.tally.record(Step(unknown=unknown, reason=f"{cause}: no clear answer for these (may be written)"))
        if failed:
            self.tally.record(Step(failed=failed, reason=f"{cause}: refused, still unprocessed or never sent"))


def _ending(error: BaseException) -> str:
    """One line naming the exception that ended the run (DynamoDB's code when it has one)."""
    response = getattr(error, "response", None) or getattr(getattr(error, "cause", None), "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code is None and not hasattr(error, "response"):
        code = transport_failure(error)[0] if _is_transport(error) else None
    message = str(error).splitlines()[0][:200] if str(error) else ""
    name = type(error).__name__
    return f"{name}{f' ({code})' if code and code != name else ''} ended the run: {message}".rstrip(": ")


def _is_transport(error: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError

    return isinstance(error, (BotoCoreError, OSError))


def retry_settings(configured: Any) -> str:
    """botocore's retry mode and attempts per call, from a client's resolved ``config.retries`` (its config, the
    environment, the profile) or a library's own, with botocore's defaults for DynamoDB where it sets none."""
    retries = dict(configured or {})
    mode = str(retries.get("mode") or "legacy")
    attempts = retries.get("total_max_attempts")
    if attempts is None and retries.get("max_attempts") is not None:
        attempts = int(retries["max_attempts"]) + 1
    source = "set"
    if attempts is None:
        source = "botocore's default for DynamoDB"
        try:
            if mode == "legacy":
                from botocore.loaders import create_loader

                attempts = create_loader().load_data("_retry")["retry"]["dynamodb"]["__default__"]["max_attempts"]
            else:
                from botocore.retries import standard

                attempts = getattr(standard, "_SERVICE_MAX_ATTEMPTS", {}).get("dynamodb", standard.DEFAULT_MAX_ATTEMPTS)
        except (AttributeError, KeyError, ImportError):
            attempts, source = "?", "not found in botocore"
    return f"botocore {mode} retry mode, {attempts} attempts per call ({source})"


def _plain(book: Book) -> dict[str, str]:
    """The book as the resource APIs take it (Python strings; they serialise it to the same DynamoDB item)."""
    return {name: value["S"] for name, value in book.to_item().items()}


class _Feed:
    """The book stream handed out one book at a time (to one or many threads), every book given remembered, until the
    run stops."""

    def __init__(self, books: Iterable[Book], tally: Tally, known: dict[str, Book]) -> None:
        self.iterator, self.tally, self.known = iter(books), tally, known
        self.given: list[str] = []
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Book]:
        return self

    def rest(self) -> Iterator[tuple[Book, ...]]:
        """What the library never took from the stream, in chunks (the run ended before it)."""
        import itertools

        with self._lock:
            while chunk := tuple(itertools.islice(self.iterator, 1000)):
                yield chunk

    def __next__(self) -> Book:
        with self._lock:
            if self.tally.stopping:
                raise StopIteration
            book = next(self.iterator)
            self.known[book.isbn] = book
            self.given.append(book.isbn)
            return book


def write_shipped(chosen: Approach, books: Iterable[Book], target: Target, threads: int, table: str,
                  progress: ProgressCallback | None, stop: threading.Event) -> RunReport:
    """Write ``books`` to ``table`` with the as-shipped approach ``chosen``; blocks until the library returns or
    raises (never raises itself for DynamoDB, network or library errors: they end up in the report)."""
    tally = Tally(chosen.name, table, progress, stop, breaker=never_opens())
    known: dict[str, Book] = {}
    ledger = Ledger(table, tally, known)
    feed = _Feed(books, tally, known)
    runner = {"boto3-batch-writer": _batch_writer, "boto3-batch-writer-threaded": _batch_writer_threaded,
              "pynamodb-batch": _pynamodb, "awswrangler": _awswrangler}[chosen.name]
    ended: BaseException | None = None
    settings = ""
    wall, cpu = time.perf_counter(), time.process_time()
    tally.start()
    try:
        settings = runner(target, table, ledger, feed, threads)
    except Exception as error:  # the library gave up: recorded as the user's code would meet it
        ended = error
    ledger.settle(feed.given, ended, stop.is_set())
    # the user's program would have stopped here: the rest of the stream is never sent
    never = sum(len(chunk) for chunk in feed.rest()) if ended is not None and not stop.is_set() else 0
    report = tally.report(time.perf_counter() - wall, time.process_time() - cpu)
    note = f"as shipped: {settings or chosen.shipped}; the lab's retry loop did not apply"
    if not never:
        return replace(report, notes=(*report.notes, note))
    assert ended is not None
    return replace(report, items=report.items + never, items_not_sent=report.items_not_sent + never,
                   ended=_ending(ended), failures=(*report.failures, f"not sent: {_ending(ended)}"),
                   notes=(*report.notes, note))


def _batch_writer(target: Target, table: str, ledger: Ledger, feed: _Feed, threads: int) -> str:
    """``boto3.resource("dynamodb").Table(name).batch_writer()``, one put_item per book."""
    resource = target.resource()
    ledger.listen(resource.meta.client.meta.events)
    with resource.Table(table).batch_writer() as writer:
        for book in feed:
            writer.put_item(Item=_plain(book))
    return retry_settings(resource.meta.client.meta.config.retries)


def _batch_writer_threaded(target: Target, table: str, ledger: Ledger, feed: _Feed, threads: int) -> str:
    """``threads`` threads, each with its own resource and batch_writer, sharing the book stream. The first
    exception a thread raises ends the run (the others stop taking books)."""
    resources = [target.resource() for _ in range(threads)]  # made here: boto3 sessions are not thread-safe
    for resource in resources:
        ledger.listen(resource.meta.client.meta.events)
    errors: list[BaseException] = []

    def work(resource: Any) -> None:
        try:
            with resource.Table(table).batch_writer() as writer:
                for book in feed:
                    if errors:
                        return
                    writer.put_item(Item=_plain(book))
        except Exception as error:
            errors.append(error)

    workers = [threading.Thread(target=work, args=(r,), name="lab-batch-writer", daemon=True) for r in resources]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return retry_settings(resources[0].meta.client.meta.config.retries) + f"; {threads} threads, one batch_writer each"


def _pynamodb(target: Target, table: str, ledger: Ledger, feed: _Feed, threads: int) -> str:
    """A PynamoDB ``Model`` for the book on the target (host, region, keys; the CA bundle set on its botocore session)
    and ``Model.batch_write()``, one save per book."""
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.models import Model

    credentials = target.credentials()

    class Meta:
        table_name = table
        region = target.region
        host = target.endpoint_url
        aws_access_key_id = credentials.access_key
        aws_secret_access_key = credentials.secret_key
        aws_session_token = credentials.token

    book_model: Any = type("LabBook", (Model,), {
        "Meta": Meta, "isbn": UnicodeAttribute(hash_key=True), "title": UnicodeAttribute(),
        "author": UnicodeAttribute(), "published": UnicodeAttribute()})
    connection = book_model._get_connection().connection
    session = connection.session  # this thread's botocore session, before its client is made
    if target.https:
        session.set_config_variable("ca_bundle", target.trusted_ca)
    session.set_default_client_config(target.proxy_config())  # PynamoDB's own config is merged over it
    ledger.listen(session.get_component("event_emitter"))
    with book_model.batch_write() as batch:
        for book in feed:
            batch.save(book_model(**_plain(book)))
    rounds = int(book_model.Meta.max_retry_attempts)
    return retry_settings(connection.client.meta.config.retries) + f"; UnprocessedItems: {rounds} rounds, then PutError"


def _awswrangler(target: Target, table: str, ledger: Ledger, feed: _Feed, threads: int) -> str:
    """``wr.dynamodb.put_items(items=[...], table_name=..., boto3_session=...)``: the whole list in one call (its
    threads: os.cpu_count()). Its endpoint and CA bundle are global settings (``wr.config``), set for the call and
    put back after it."""
    import awswrangler as wr

    session = target.boto3_session()
    session._session.set_default_client_config(target.proxy_config())  # awswrangler's config is merged over it
    ledger.listen(session.events)
    items = [_plain(book) for book in feed]
    saved = (wr.config.dynamodb_endpoint_url, wr.config.verify)
    wr.config.dynamodb_endpoint_url = target.endpoint_url
    wr.config.verify = target.trusted_ca if target.https else None
    try:
        wr.dynamodb.put_items(items=items, table_name=table, boto3_session=session)
    finally:
        wr.config.dynamodb_endpoint_url, wr.config.verify = saved
    from awswrangler import _utils

    return retry_settings(getattr(_utils.default_botocore_config(), "retries", None)) + "; os.cpu_count() threads"


__all__ = ["Ledger", "retry_settings", "write_shipped"]
