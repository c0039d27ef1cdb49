"""The bulk-put approach end to end on the embedded target (the lab's proxy emulating the operation, moto's S3), its
plan fields, cost and CLI flags, and its parts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core.app.cli import main
from core.domain.books import generate_books
from core.domain.bulkmodel import EMULATED, BulkAssumptions
from core.domain.errors import ConfigError
from core.domain.plan import Plan
from core.domain.results import ProgressEvent
from core.domain.s3source import SEEDED_LINE_BYTES, even_part_bytes, parts
from core.run.runner import run
from core.servers.emulator import Emulator


def test_three_malformed_lines_among_2000_are_reported_failed(emulator: Emulator) -> None:
    report = run(Plan(approaches=("bulk-put",), items=2000, bulk_malformed=3), emulator=emulator)
    (result,) = report.runs
    run_report, check = result.report, result.verification
    assert (run_report.items_ok, run_report.items_failed, run_report.items_unknown) == (1997, 3, 0)
    assert len(run_report.failed_isbns) == 3 and run_report.errors == {"ParseError": 3}
    assert all("ParseError" in line for line in run_report.failures)
    assert (check.found, check.missing, check.lost, check.recovered) == (1997, 3, 0, 0)
    assert EMULATED in run_report.notes
    assert any("bulk put COMPLETED_WITH_ERRORS: ProcessedItemCount 2,000, FailedItemCount 3" in n
               for n in run_report.notes)
    assert any(n.startswith("verification agrees with the operation") for n in run_report.notes)
    assert any("assumed price" in n for n in run_report.notes)
    assert report.error is None and run_report.halted is None


def test_cancel_mid_operation_ends_cancelled_and_verifies_what_was_written(emulator: Emulator) -> None:
    cancel = threading.Event()

    def progress(event: ProgressEvent) -> None:
        if event.phase == "write" and event.done >= 2000:
            cancel.set()

    report = run(Plan(approaches=("bulk-put",), items=20_000, bulk_max_wru=1024), emulator=emulator,
                 progress=progress, cancel=cancel)
    (result,) = report.runs
    run_report, check = result.report, result.verification
    assert report.cancelled and run_report.halted and "ended CANCELLED" in run_report.halted
    assert run_report.items_ok == 0 and run_report.items_unknown == 20_000
    assert 2000 <= check.recovered < 20_000 and check.lost == 0 and check.found == check.recovered
    assert check.recovered + check.missing == 20_000
    assert any(n.startswith("verification agrees with the operation") for n in run_report.notes)


@pytest.mark.parametrize(("fields", "message"), [
    ({"bulk_tier": "TURBO"}, "--bulk-tier"),
    ({"bulk_max_wru": 1000}, "at least 1,024"),
    ({"bulk_malformed": 11}, "--bulk-malformed"),
    ({"target": "aws"}, "bulk-put on AWS us-east-1 needs --s3-bucket"),
    ({"workers": 2}, "not Dask shards"),
])
def test_plan_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Plan(approaches=("bulk-put",), items=10, **fields)


def test_cost_is_the_assumed_price_times_the_bulk_put_bytes() -> None:
    plan = Plan(approaches=("bulk-put", "async"), items=10_000_000, target="aws", s3_bucket="my-bucket",
                bulk_tier="accelerated")  # type: ignore[arg-type]  # as a user types it
    assert plan.bulk_tier == "ACCELERATED"
    bulk = BulkAssumptions().cost(plan.bulk_put_bytes, "ACCELERATED")
    assert plan.cost_by_approach["bulk-put"] == pytest.approx(bulk + plan.import_cost().requests_usd)
    assert plan.cost_by_approach["bulk-put"] < plan.cost_by_approach["async"]
    assert "assumed price" in plan.cost_text and "on-demand writes" in plan.cost_text


@pytest.mark.parametrize(("argv", "message"), [
    (["--bulk-max-wru", "12"], "at least 1,024"),
    (["--bulk-tier", "fast"], "invalid choice"),
    (["--target", "aws", "--yes"], "needs --s3-bucket"),
])
def test_cli_bad_input_is_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--approaches", "bulk-put", "--dry-run", "--history", "off", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_parts_are_similarly_sized_and_not_sorted_by_key() -> None:
    books = 10_000
    size = even_part_bytes(books * SEEDED_LINE_BYTES)
    assert size == books * SEEDED_LINE_BYTES  # one part under the 64 MB part size
    made = list(parts(generate_books(books), part_bytes=books * SEEDED_LINE_BYTES // 4 + 1))
    counts = [p.items for p in made]
    assert len(made) == 4 and max(counts) - min(counts) < 0.02 * books
    keys = [book.isbn for book in generate_books(2_000)]
    assert keys != sorted(keys)
