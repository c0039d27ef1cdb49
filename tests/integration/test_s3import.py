"""The s3-import approach against a real moto server (S3 and DynamoDB ImportTable in one process, no mocks): books
streamed into gzipped DynamoDB JSON parts, imported, verified; its progress; each failure mode's one line; its cost;
the CLI end to end on the embedded target (which delegates the import to a moto server the lab starts)."""

from __future__ import annotations

import gzip
import itertools
import math
import re
import threading
import uuid
from collections.abc import Iterator

import orjson
import psutil
import pytest

from core.app.cli import main
from core.domain.books import Book, generate_books
from core.domain.capacity import Capacity
from core.domain.errors import ConfigError, TargetError
from core.domain.plan import Conditions, Plan
from core.domain.pricing import (
    IMPORT_PRICE_USD_PER_GB,
    S3_GET_PRICE_USD,
    S3_PUT_PRICE_USD,
    WRU_PRICE_USD,
    import_cost_of,
)
from core.domain.results import ProgressEvent
from core.domain.s3source import (
    MAX_OBJECTS,
    PART_BYTES,
    SEEDED_LINE_BYTES,
    S3Location,
    import_cost,
    item_line,
    objects_for,
    part_bytes_for,
    parts,
)
from core.forecast.estimate import forecast
from core.run.importer import ImportCancelled, ImportOptions, ImportProgress, prepare_table, run_import
from core.run.runner import run
from core.servers.emulator import Emulator
from core.targets.tables import create_table, describe_table
from core.targets.target import LOCAL_CREDENTIALS, Target, make_target
from core.targets.verify import verify


def unique(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


def options(bucket: str, **extra: object) -> ImportOptions:
    return ImportOptions(S3Location(bucket), part_bytes=20_000, poll_seconds=0.05, **extra)  # type: ignore[arg-type]


# --- the parts (pure) ---------------------------------------------------------------------------------------

def test_parts_are_gzipped_dynamodb_json_lines_of_every_book_in_order() -> None:
    books = list(generate_books(1_000, seed=3))
    made = list(parts(books, part_bytes=20_000))
    assert len(made) > 5 and [p.index for p in made] == list(range(len(made)))
    assert all(p.source_bytes >= 20_000 for p in made[:-1])
    read = [orjson.loads(line) for p in made for line in gzip.decompress(p.body).splitlines()]
    assert [Book.from_item(line["Item"]) for line in read] == books
    assert sum(p.items for p in made) == 1_000
    assert sum(p.source_bytes for p in made) == sum(len(item_line(b)) for b in books)


def test_parts_pull_books_lazily_one_part_at_a_time() -> None:
    pulled = 0

    def counted() -> Iterator[Book]:
        nonlocal pulled
        for book in generate_books(10**9 - 1):  # a stream far too large to hold: only a part's worth is pulled
            pulled += 1
            yield book

    first = next(parts(counted(), part_bytes=10_000))
    assert pulled == first.items < 100


def test_the_mean_line_size_the_cost_uses_is_the_seeded_books() -> None:
    books = list(generate_books(2_000, seed=11))
    mean = sum(len(item_line(b)) for b in books) / len(books)
    assert abs(mean - SEEDED_LINE_BYTES) / SEEDED_LINE_BYTES < 0.03


@pytest.mark.parametrize(("source_bytes", "objects", "usd"), [
    (2**30, 1, 0.15 + 0.0054 / 1000),  # one GB in one object: the import, one PUT, one GET
    (10 * 2**30, 160, 1.5 + 160 * 0.0054 / 1000),
    (0, 1, 0.0054 / 1000),
])
def test_import_cost(source_bytes: int, objects: int, usd: float) -> None:
    cost = import_cost(source_bytes, objects, IMPORT_PRICE_USD_PER_GB, S3_PUT_PRICE_USD, S3_GET_PRICE_USD)
    assert cost.usd == pytest.approx(usd)
    assert cost.gigabytes == source_bytes / 2**30


@pytest.mark.parametrize(("approaches", "items", "repeats", "expected"), [
    (("sequential",), 10_000, 1, {"sequential": 10_000 * WRU_PRICE_USD}),
    (("s3-import",), 10_000, 2, {"s3-import": 2 * (10_000 * SEEDED_LINE_BYTES / 2**30 * 0.15 + 0.0054 / 1000)}),
    (("async", "s3-import"), 10_000_000, 1,
     {"async": 6.25, "s3-import": 10_000_000 * SEEDED_LINE_BYTES / 2**30 * 0.15
      + objects_for(10_000_000 * SEEDED_LINE_BYTES) * 0.0054 / 1000}),
])
def test_plan_cost_is_per_approach(approaches: tuple[str, ...], items: int, repeats: int,
                                   expected: dict[str, float]) -> None:
    plan = Plan(approaches=approaches, items=items, repeats=repeats)
    assert plan.cost_by_approach == pytest.approx(expected)
    assert plan.cost_usd == pytest.approx(sum(expected.values()))


def test_ten_million_books_cost_far_less_to_import_than_to_write() -> None:
    plan = Plan(approaches=("async", "s3-import"), items=10_000_000, target="aws", s3_bucket="my-bucket")
    text = plan.cost_text
    assert "on-demand writes" in text and "for s3-import" in text and "per GB of uncompressed source" in text
    assert plan.cost_by_approach["s3-import"] < plan.cost_by_approach["async"] / 20


@pytest.mark.parametrize(("fields", "message"), [
    ({"target": "aws"}, "s3-import on AWS us-east-1 needs --s3-bucket"),
    ({"s3_bucket": "Bad_Bucket"}, "invalid S3 bucket name 'Bad_Bucket'"),
    ({"s3_prefix": "/root"}, "invalid S3 prefix '/root'"),
    ({"workers": 2}, "s3-import runs one import, not Dask shards"),
])
def test_plan_refuses_what_an_import_cannot_do(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Plan(approaches=("s3-import",), **fields)  # type: ignore[arg-type]


# --- runs against moto ------------------------------------------------------------------------------------

def test_an_import_of_books_is_verified_with_its_progress(moto_target: Target) -> None:
    table = unique("Imported")
    events: list[ImportProgress] = []
    report = run_import(generate_books(1_500, seed=5), moto_target, options(unique("lab-")), events.append, table)
    assert report.complete and report.items == report.items_ok == 1_500
    assert report.requests == len(report.latencies_ms) > 5  # one PUT per part, each timed
    assert report.approach == "s3-import" and report.throttled == 0 and not report.halted
    check = verify(moto_target.client(max_attempts=3), table, generate_books(1_500, seed=5), report)
    assert check.ok and check.found == 1_500
    stages = [e.stage for e in events]
    assert stages[0] == "upload" and stages[-1] == "import" and stages.index("import") == report.requests
    uploads = [e.items for e in events if e.stage == "upload"]
    assert uploads == sorted(uploads) and uploads[-1] == 1_500
    assert events[-1] == ImportProgress("import", 1_500, events[-1].bytes, report.requests, "COMPLETED", uploaded=1_500)
    assert "importing (COMPLETED): 1,500 items" in events[-1].line


def test_local_runs_leave_no_parts_behind(moto_target: Target) -> None:
    bucket = unique("lab-")
    run_import(generate_books(300), moto_target, options(bucket), table=unique("Imported"))
    assert moto_target.s3_client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_missing_bucket_is_one_line(moto_target: Target) -> None:
    with pytest.raises(TargetError, match=r"S3 bucket nowhere-[0-9a-f]+ does not exist .*\(NoSuchBucket\): create it"):
        run_import(generate_books(10), moto_target, options(unique("nowhere-"), local=False), table=unique("I"))


def test_a_bucket_the_credentials_cannot_read_is_one_line(moto_iam_target: Target) -> None:
    # the user may use DynamoDB only: S3 refuses it
    with pytest.raises(TargetError, match=r"is not readable and writable with these credentials \(AccessDenied\)"):
        run_import(generate_books(10), moto_iam_target, options(unique("lab-"), local=False), table=unique("I"))


def test_an_existing_table_is_replaced_locally_and_named_on_aws(moto_target: Target) -> None:
    client, table = moto_target.client(max_attempts=3), unique("Imported")
    create_table(client, table)
    with pytest.raises(TargetError, match=rf"table {table} already exists in us-east-1: an import creates a new "
                                          rf"table; delete it with `aws dynamodb delete-table --table-name {table}"):
        prepare_table(client, table, local=False, region="us-east-1")
    assert describe_table(client, table) is not None  # never deleted off this machine
    prepare_table(client, table, local=True, region="us-east-1")
    assert describe_table(client, table) is None


def test_a_failed_import_reports_its_failure_in_one_line(moto_target: Target) -> None:
    bucket, run_id, table = unique("lab-"), "import-broken", unique("Imported")
    location = S3Location(bucket)
    s3 = moto_target.s3_client()
    s3.create_bucket(Bucket=bucket)
    bad = gzip.compress(b'{"Item": {"title": {"S": "no key"}}}\n')  # an item without its isbn key
    s3.put_object(Bucket=bucket, Key=location.key(run_id, 99), Body=bad)
    report = run_import(generate_books(50), moto_target, options(bucket, run_id=run_id), table=table)
    assert report.halted is not None and report.halted.startswith("the import ended FAILED (")
    assert "\n" not in report.halted and report.failures == (report.halted,)
    assert "Missing the key isbn in the item" in report.halted and report.errors == {"FAILED": 1}
    assert report.items_ok == 50 and report.items_failed == 0  # the foreign line failed, every book was imported


def test_a_cancel_before_the_import_uploads_nothing_more_and_cleans_up(moto_target: Target) -> None:
    bucket, cancel = unique("lab-"), threading.Event()

    def stop_after_first(event: ImportProgress) -> None:
        cancel.set()

    with pytest.raises(ImportCancelled, match=r"cancelled during the upload, before the import started; 1[0-9,]* "
                                              r"items uploaded in 1 part\(s\); its parts were removed"):
        run_import(generate_books(1_000), moto_target, options(bucket, cancel=cancel), stop_after_first,
                   unique("Imported"))
    assert moto_target.s3_client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_cancel_during_the_import_stops_waiting_and_says_the_import_goes_on(moto_target: Target) -> None:
    cancel, table = threading.Event(), unique("Imported")

    def cancel_once_importing(event: ImportProgress) -> None:
        if event.stage == "import":
            cancel.set()  # moto needs seconds for 20,000 books: the first DescribeImport finds it IN_PROGRESS

    with pytest.raises(ImportCancelled, match=rf"cancelled while the import ran: DynamoDB has no API to stop an "
                                              rf"import, so import arn:aws:dynamodb:\S+ goes on and creates table "
                                              rf"{table}; 20,000 items uploaded in 1 part\(s\); its parts were "
                                              "removed"):
        run_import(generate_books(20_000), moto_target, ImportOptions(S3Location(unique("lab-")), cancel=cancel),
                   cancel_once_importing, table)


def test_a_cancelled_plan_reports_no_half_import(emulator: Emulator) -> None:
    cancel = threading.Event()

    def cancel_on_upload(event: object) -> None:
        if getattr(event, "phase", "") == "write":
            cancel.set()

    report = run(Plan(approaches=("s3-import",), items=2_000), emulator=emulator, progress=cancel_on_upload,
                 cancel=cancel)
    assert report.cancelled and not report.runs  # nothing half-reported
    assert report.error is not None and "s3-import was cancelled" in report.error


def test_a_server_without_import_table_is_one_line(embedded_target: Target) -> None:
    with pytest.raises(TargetError, match=r"does not implement ImportTable \(UnknownOperationException\): s3-import "
                                          "needs AWS or a moto server"):
        run_import(generate_books(10), embedded_target, options("lab-bucket"), table=unique("I"))


# --- through the benchmark and the CLI ------------------------------------------------------------------------

def test_a_plan_on_the_embedded_target_imports_on_moto_and_says_so(emulator: Emulator) -> None:
    report = run(Plan(approaches=("s3-import",), items=400), emulator=emulator)
    [result] = report.runs
    assert report.clean and result.verification.found == 400
    assert result.report.notes == ("s3-import ran on moto, not on embedded: its duration is not representative; "
                                   "only AWS's figure is (embedded has no ImportTable, so the lab runs the import "
                                   "on a moto server of its own)",)
    assert not _morto_processes()  # the plan's moto server is gone with it


def _morto_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "moto.server" in " ".join(process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return [p for p in found if not _is_session_moto(p)]


def _is_session_moto(process: psutil.Process) -> bool:
    """The tests' own moto server (tests/servers.py) runs moto directly, not under the lab's guard."""
    try:
        parent = process.parent()
        return parent is None or "guard.py" not in " ".join(parent.cmdline())
    except psutil.Error:
        return True


def test_the_moto_server_dying_mid_import_ends_the_plan_in_one_line(emulator: Emulator) -> None:
    killed: list[int] = []

    def kill_moto(event: object) -> None:
        if killed or getattr(event, "phase", "") != "write":
            return
        for process in _morto_processes():  # the one this plan started, by its pid
            killed.append(process.pid)
            process.kill()

    report = run(Plan(approaches=("s3-import",), items=3_000), emulator=emulator, progress=kill_moto)
    assert killed and not report.runs and report.error is not None
    assert report.error.startswith(("the import of s3-import failed: moto stopped",
                                    "moto stopped during the s3-import run: the import did not finish"))
    assert "\n" not in report.error


def test_cli_runs_s3_import_on_the_embedded_target_and_says_its_time_is_not_representative(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--approaches", "s3-import,async", "--items", "300", "--history", "off"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "note: s3-import ran on moto, not on embedded: its duration is not representative" in err
    assert "note: s3-import ran on moto" in out  # beside the run in the table
    assert re.search(r"^s3-import +1 +OK +300/300 ", out, re.M), out
    assert "s3-import #1: importing (COMPLETED): 300 items" in err


def test_cli_refuses_s3_import_on_aws_without_a_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "aws", "--approaches", "s3-import", "--yes", "--dry-run"]) == 2
    assert "s3-import on AWS us-east-1 needs --s3-bucket" in capsys.readouterr().err


def test_cli_confirmation_on_aws_prices_the_import(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "aws", "--approaches", "s3-import", "--s3-bucket", "my-bucket",
                 "--items", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "add --yes to write there (about $0.0214 for s3-import (0.1425 GB imported from 3 S3 object(s)" in err


@pytest.mark.parametrize("target", ["embedded", "aws"])
def test_the_estimate_covers_s3_import(target: str) -> None:
    plan = Plan(target=target, approaches=("s3-import", "sequential"), items=100_000, s3_bucket="my-bucket")  # type: ignore[arg-type]
    guess = forecast(plan)
    assert 0 < guess.per_run["s3-import"] < guess.per_run["sequential"]  # an import beats writes one at a time
    assert "s3-import: upload from built-in figures, the import from moto's speed here" in guess.basis
    assert ("AWS's import time is not estimated" in guess.basis) == (target == "aws")


def test_many_parts_are_cheap_on_memory() -> None:
    sizes = [len(p.body) for p in itertools.islice(parts(generate_books(5_000), part_bytes=50_000), 100)]
    assert len(sizes) > 10 and max(sizes) < 50_000  # each part held alone, compressed


def test_the_writers_refuse_s3_import_in_one_line(embedded_target: Target) -> None:
    from core.writers import WRITERS, write

    assert "s3-import" not in WRITERS
    with pytest.raises(ConfigError, match="s3-import is not a writer: run it in a plan"):
        write("s3-import", generate_books(1), embedded_target)


@pytest.mark.parametrize(("fixture", "kind"), [("emulator", "embedded"), ("dynamodb_local", "dynamodb-local"),
                                               ("localstack", "localstack")])
def test_the_engines_the_lab_delegates_have_no_import_table(fixture: str, kind: str,
                                                           request: pytest.FixtureRequest) -> None:
    """If one of them gains ImportTable, it should leave DELEGATED and run its own imports."""
    from botocore.exceptions import ClientError

    from core.domain.s3source import DELEGATED

    assert kind in DELEGATED
    engine = request.getfixturevalue(fixture)
    client = make_target("custom", endpoint_url=engine.endpoint_url,
                         credentials=LOCAL_CREDENTIALS).client(max_attempts=1)
    with pytest.raises(ClientError) as refused:
        client.import_table(S3BucketSource={"S3Bucket": "lab-bucket"}, InputFormat="DYNAMODB_JSON",
                            TableCreationParameters={
                                "TableName": "ImportProbe", "BillingMode": "PAY_PER_REQUEST",
                                "AttributeDefinitions": [{"AttributeName": "isbn", "AttributeType": "S"}],
                                "KeySchema": [{"AttributeName": "isbn", "KeyType": "HASH"}]})
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"


def test_a_plan_on_dynamodb_local_imports_on_moto_and_says_so(dynamodb_local: object) -> None:
    report = run(Plan(target="dynamodb-local", approaches=("s3-import",), items=200),
                 emulator=dynamodb_local)  # type: ignore[arg-type]
    assert report.clean and report.runs[0].report.notes[0].startswith(
        "s3-import ran on moto, not on dynamodb-local: its duration is not representative")


def test_the_page_shows_the_import_stage_in_its_progress() -> None:
    from core.app.wording import progress_text
    from core.domain.results import ProgressEvent

    line = ImportProgress("import", 1_200, 180_000, 3, "IN_PROGRESS").line
    event = ProgressEvent("s3-import", 0, "write", 1_200, 2_000, 1.0, detail=line)
    assert progress_text(event, "s3-import", 1) == "s3-import: importing (IN_PROGRESS): 1,200 items, 0.2 MB processed"


# --- review fixes: polling through failures, buckets outside us-east-1, part sizes, progress, notes ----------------

class FaultyDescribeImport:
    """A forwarding proxy in front of the real moto server that answers the import's DescribeImport calls with the
    given faults, one per call, in order (the probe before the upload passes): ``throttle`` (400
    ThrottlingException), ``500`` (InternalServerError), ``reset`` (the connection closed, no answer), ``deny``
    (400 AccessDeniedException). Everything else reaches moto unchanged."""

    def __init__(self, upstream: str, faults: list[str]) -> None:
        import http.client
        import http.server
        import urllib.parse

        self.faults, self.seen = list(faults), 0
        target = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Amz-Target", "").endswith(".DescribeImport") and b"lab0probe" not in body:
                    proxy.seen += 1
                    if proxy.faults:
                        self.fault(proxy.faults.pop(0))
                        return
                upstream_connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                upstream_connection.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream_connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream_connection.close()

            def fault(self, kind: str) -> None:
                if kind == "reset":
                    self.close_connection = True
                    return
                status, code = {"throttle": (400, "ThrottlingException"), "500": (500, "InternalServerError"),
                                "deny": (400, "AccessDeniedException")}[kind]
                data = orjson.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": kind})
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyDescribeImport:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_temporary_describe_import_failures_are_waited_out(moto_url: str) -> None:
    """Throttling, a 5xx and a dropped connection, each outlasting botocore's three attempts, do not end the run:
    the import goes on, so the lab asks again with backoff and reports it verified."""
    faults = ["throttle"] * 3 + ["500"] * 3 + ["reset"] * 3
    with FaultyDescribeImport(moto_url, faults) as proxy:
        target = make_target("custom", endpoint_url=proxy.url, credentials=LOCAL_CREDENTIALS)
        table = unique("Imported")
        report = run_import(generate_books(400, seed=2), target, options(unique("lab-")), table=table)
        assert not proxy.faults and proxy.seen > len(faults)  # every fault was served, then the import answered
    assert report.complete and report.items_ok == 400
    check = verify(target_for(moto_url).client(max_attempts=3), table, generate_books(400, seed=2), report)
    assert check.ok


def test_a_describe_import_refusal_names_the_import_arn(moto_url: str) -> None:
    with FaultyDescribeImport(moto_url, ["deny"]) as proxy:
        target = make_target("custom", endpoint_url=proxy.url, credentials=LOCAL_CREDENTIALS)
        with pytest.raises(TargetError) as raised:
            run_import(generate_books(50), target, options(unique("lab-")), table=unique("Imported"))
    line = str(raised.value)
    assert line.startswith("DescribeImport of import arn:aws:dynamodb:") and "/import/" in line
    assert "(AccessDeniedException: deny)" in line and "describe-import --import-arn arn:aws:dynamodb:" in line
    assert "\n" not in line


def test_temporary_failures_until_the_deadline_end_in_one_line_with_the_arn(moto_url: str) -> None:
    with FaultyDescribeImport(moto_url, ["throttle"] * 1_000) as proxy:
        target = make_target("custom", endpoint_url=proxy.url, credentials=LOCAL_CREDENTIALS)
        with pytest.raises(TargetError, match=r"^DescribeImport of import arn:aws:dynamodb:\S+ kept failing "
                                              r"\(ThrottlingException\) until the deadline \(1 s\): the import goes "
                                              r"on; follow it with `aws dynamodb describe-import --import-arn "):
            run_import(generate_books(50), target, options(unique("lab-"), timeout_seconds=1.0),
                       table=unique("Imported"))


def target_for(url: str, region: str = "us-east-1") -> Target:
    return make_target("custom", endpoint_url=url, region=region, credentials=LOCAL_CREDENTIALS)


def test_the_lab_creates_its_bucket_outside_us_east_1(moto_url: str) -> None:
    """S3 refuses a bucket outside us-east-1 without its LocationConstraint: the lab names the region."""
    target, bucket, table = target_for(moto_url, "eu-west-1"), unique("lab-"), unique("Imported")
    report = run_import(generate_books(200, seed=4), target, options(bucket), table=table)
    assert report.complete and report.items_ok == 200
    assert target.s3_client().get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"


@pytest.mark.parametrize(("source_bytes", "expected"), [
    (0, PART_BYTES),
    (PART_BYTES * MAX_OBJECTS, PART_BYTES),  # exactly the limit at the usual size
    (PART_BYTES * MAX_OBJECTS + 1, PART_BYTES + 1),  # one byte more: parts grow
    (10**16, math.ceil(10**16 / MAX_OBJECTS)),
])
def test_parts_grow_to_stay_within_the_import_object_limit(source_bytes: int, expected: int) -> None:
    assert part_bytes_for(source_bytes) == expected
    assert objects_for(source_bytes) <= MAX_OBJECTS
    assert import_cost_of(source_bytes).objects == objects_for(source_bytes, part_bytes_for(source_bytes))


def test_the_importer_sizes_its_parts_for_the_books_it_expects() -> None:
    huge = 10**12  # far more books than PART_BYTES parts could hold in MAX_OBJECTS objects
    assert ImportOptions(S3Location("b-lab"), items=huge).part_size == part_bytes_for(huge * SEEDED_LINE_BYTES)
    assert ImportOptions(S3Location("b-lab"), items=huge).part_size > PART_BYTES
    assert ImportOptions(S3Location("b-lab")).part_size == PART_BYTES
    assert ImportOptions(S3Location("b-lab"), items=huge, part_bytes=1_000).part_size == 1_000


def test_progress_and_timeline_never_go_back(moto_target: Target) -> None:
    """The upload's count climbs to every book, then stays there while the import runs (its processed count, which
    restarts at 0, is in the progress line): no sawtooth in the chart or the progress bar."""
    events: list[ImportProgress] = []
    report = run_import(generate_books(1_200, seed=6), moto_target, options(unique("lab-")), events.append,
                        unique("Imported"))
    counts = [n for _, n in report.timeline]
    assert counts == sorted(counts) and counts[-1] == 1_200 and len(counts) == report.requests + 1
    assert [t for t, _ in report.timeline] == sorted(t for t, _ in report.timeline)
    done = [e.done for e in events]
    assert done == sorted(done) and done[-1] == 1_200
    assert all(e.done == 1_200 for e in events if e.stage == "import")
    processed = [e.items for e in events if e.stage == "import"]
    assert processed == sorted(processed)


def test_a_plan_with_conditions_says_the_import_ran_without_them(moto_url: str) -> None:
    """On a local custom target the conditions proxy stands in front of DynamoDB only: the import went straight to
    the target, and the run says so (never silently), while the progress bar never goes back."""
    events: list[ProgressEvent] = []
    plan = Plan(approaches=("s3-import",), items=300, target="custom", endpoint_url=moto_url,
                conditions=Conditions(latency_ms=2.0))
    report = run(plan, progress=events.append)
    assert report.clean, report.error
    notes = report.runs[0].report.notes
    assert any(note.startswith("s3-import ran without the plan's network conditions and faults: the lab's proxy "
                               "applies them to the writers' DynamoDB requests only; the import's S3 uploads and "
                               "ImportTable went straight to the target") for note in notes), notes
    writes = [e.done for e in events if e.phase == "write"]
    assert writes == sorted(writes) and writes[-1] == 300


def test_the_import_note_names_what_the_import_ran_without() -> None:
    assert Plan(approaches=("s3-import",), target="custom", endpoint_url="http://127.0.0.1:5000").import_note is None
    note = Plan(approaches=("s3-import",), capacity=Capacity("on-demand")).import_note
    assert note is not None and "s3-import ran on moto, not on embedded" in note
    assert "ran without the plan's capacity model" in note and "went straight to the moto server" in note
    rehearsal = Plan(approaches=("s3-import", "async"), target="custom", endpoint_url="http://127.0.0.1:5000",
                     rehearsal=True).import_note
    assert rehearsal is not None and "without the plan's dress rehearsal (HTTPS, signature checks)" in rehearsal
    assert Plan(approaches=("async",), conditions=Conditions(latency_ms=2.0)).import_note is None
