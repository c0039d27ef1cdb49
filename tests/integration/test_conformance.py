"""The engine conformance suite: core.servers.conformance's one list of raw requests, sent to dynalite, AWS DynamoDB
Local, host-mode LocalStack and moto, each started once per session by tests/conftest.py.

Each case asserts the LAB's contract on every engine, never DynamoDB's: an answer that is not a 200 is read by
``core.wire.protocol.error_code`` into a code that ``core.wire.retry.classify`` calls fatal (so the lab never retries a
request that cannot succeed) and that request wrote nothing; a 200 wrote exactly the puts it acknowledged. Where an
engine differs from DynamoDB's documented answer, docs/engines.md records it (``python -m bench.conformance``); only the
engines' breaches of the lab's contract are listed here, each checked to still happen so the list stays true. The
last tests run the lab's own writer into each engine with an oversized book, a near-limit book and a repeated key:
clear errors, nothing lost.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.domain.books import Book, generate_books
from core.domain.errors import EmulatorError
from core.servers.conformance import (
    CASES,
    ENGINES,
    Case,
    Observation,
    breaches,
    differences,
    prepare,
    run_case,
)
from core.targets.tables import reset_table
from core.targets.target import LOCAL_CREDENTIALS, make_target
from core.targets.verify import fetch, verify
from core.wire.protocol import MAX_ITEM_BYTES
from core.writers import write

FIXTURES = {"dynalite": "emulator", "dynamodb-local": "dynamodb_local", "localstack": "localstack", "moto": "moto_url"}
WRITES_TABLE = "lab_conformance_writes"

# Where an engine breaks the lab's contract (engine, case) -> what happens. Each is asserted to still happen.
KNOWN_BREACHES: dict[tuple[str, str], str] = {
    ("dynamodb-local", "put-malformed-json"): "500 InternalFailure: classified transient (the lab never sends it)",
    ("localstack", "put-malformed-json"): "500 InternalError (not a DynamoDB code, so classified fatal; never sent)",
    ("moto", "put-malformed-json"): "500 with an HTML body, read as HTTP500: transient (the lab never sends it)",
    ("moto", "batch-wrong-key-type"): "400 ValidationException, yet the valid put before the bad one was written",
    ("moto", "batch-over-400kb"): "400 ValidationException, yet the valid put before the bad one was written",
}


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(name, endpoint URL) of each engine, its conformance table ready."""
    name = str(request.param)
    if name == "localstack":
        from core.servers.localstack import venv_python
        try:
            venv_python()
        except EmulatorError as error:
            pytest.skip(str(error))
    running = request.getfixturevalue(FIXTURES[name])
    url = running if isinstance(running, str) else str(running.endpoint_url)
    prepare(url)
    return name, url


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_engine_keeps_the_labs_contract(engine: tuple[str, str], case: Case) -> None:
    name, url = engine
    seen = run_case(url, case)
    found = breaches(case, seen)
    known = KNOWN_BREACHES.get((name, case.name))
    if known:
        assert found, f"{name} no longer breaks the contract on {case.name} ({known}): remove it from KNOWN_BREACHES"
        return
    assert not found, f"{name}, {case.name}: {'; '.join(found)} (answer: {seen})"


@pytest.mark.parametrize(("seen", "expected_differences"), [
    (Observation(400, "ValidationException", "", 0, None), []),
    (Observation(200, "", "", 26, "{}"), ["status 200, DynamoDB 400", "no error, DynamoDB ValidationException",
                                          "26 written, DynamoDB 0"]),
    (Observation(500, "InternalFailure", "", 0, None), ["status 500, DynamoDB 400",
                                                        "InternalFailure, DynamoDB ValidationException"]),
])
def test_differences_from_dynamodb(seen: Observation, expected_differences: list[str]) -> None:
    batch_26 = next(case for case in CASES if case.name == "batch-26")
    assert differences(batch_26, seen) == expected_differences


def test_breaches_of_the_labs_contract() -> None:
    put_ok = next(case for case in CASES if case.name == "put-ok")
    batch = next(case for case in CASES if case.name == "batch-wrong-key-type")
    assert breaches(put_ok, Observation(200, "", "", 1, None)) == []
    assert breaches(put_ok, Observation(200, "", "", 0, None)) == ["200 acknowledged 1 puts but 0 were written"]
    assert breaches(batch, Observation(400, "ValidationException", "", 0, None)) == []
    assert breaches(batch, Observation(400, "ValidationException", "", 1, None)) == [
        "refused (400 ValidationException) yet 1 written"]
    assert breaches(batch, Observation(503, "HTTP503", "", 0, None)) == [
        "status 503: not a client error, for a request that can never succeed",
        "503 HTTP503 is classified transient: the lab would retry it"]


def test_every_known_breach_names_a_case_and_an_engine() -> None:
    names = {case.name for case in CASES}
    assert all(engine in ENGINES and case in names for engine, case in KNOWN_BREACHES)


def _book(isbn: str, size: int) -> Book:
    """A book of ``size`` bytes by DynamoDB's sizing."""
    blank = Book(isbn, "", "Conformance", dt.date(2022, 3, 28))
    return Book(isbn, "t" * (size - blank.size), "Conformance", dt.date(2022, 3, 28))


@pytest.mark.parametrize("approach", ["async-batch", "sequential-batch", "async"])
def test_the_lab_writes_awkward_books_with_nothing_lost(engine: tuple[str, str], approach: str) -> None:
    """An oversized book, a 399 KB book and a key written twice, by the hand-signed and the boto3 transports, batched
    and not: every item is reported written or failed with a clear reason, and nothing is lost."""
    name, url = engine
    target = make_target("custom", endpoint_url=url, credentials=LOCAL_CREDENTIALS)
    client = target.client()
    reset_table(client, WRITES_TABLE)
    normal = list(generate_books(60, seed=11))
    near_limit = _book("979-0-00-000001-0", MAX_ITEM_BYTES - 1024)
    oversized = _book("979-0-00-000002-0", MAX_ITEM_BYTES + 1)
    rewritten = Book(normal[5].isbn, "Second edition", normal[5].author, normal[5].published)  # same key
    books = [*normal[:30], near_limit, oversized, rewritten, *normal[30:]]
    report = write(approach, books, target, table=WRITES_TABLE)
    final = [book for book in books if book is not normal[5]]  # verify wants distinct keys
    checked = verify(client, WRITES_TABLE, final, report)
    # A concurrent approach has both editions in flight at once: either may land last (the table holds one).
    stored = fetch(client, WRITES_TABLE, [rewritten.isbn])[rewritten.isbn]
    assert stored in (normal[5].to_item(), rewritten.to_item())
    first_edition_kept = int(stored != rewritten.to_item())
    assert report.items == len(books) and report.items_unknown == 0
    assert report.items_ok + report.items_failed == report.items
    assert any("ItemTooLarge" in failure and oversized.isbn in failure for failure in report.failures)
    assert oversized.isbn in report.failed_isbns
    assert (checked.lost, checked.unexpected, checked.mismatched) == (0, 0, first_edition_kept), checked
    if rewritten.isbn not in report.failed_isbns and approach.startswith("sequential"):
        assert not first_edition_kept  # one write after the other: the later one wins
    if name == "moto":  # moto refuses a legal 399 KB item: reported failed with moto's reason, not lost
        assert near_limit.isbn in report.failed_isbns
        assert any("ValidationException" in failure for failure in report.failures), report.failures
        if approach.endswith("batch"):
            # and with it the batch it travels in, after writing part of it (reported failed, present: recovered);
            # the rewrite travelled in that batch, so the table keeps the first edition
            assert rewritten.isbn in report.failed_isbns and first_edition_kept and checked.recovered > 0, checked
    else:
        assert report.failed_isbns == (oversized.isbn,)
        assert (checked.found, checked.missing) == (len(final) - 1 - first_edition_kept, 1), checked
