"""Input limits and defaults in one table (``core.domain.limits.LIMITS``): ``Plan``, ``LoadSpec``, the CLI's options
and the page's fields all take their range and default from its rows."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest

from core.app.cli import build_parser, main
from core.domain.errors import ConfigError
from core.domain.limits import LIMITS, Limit
from core.domain.plan import Conditions, Plan
from core.forecast.planner import LoadSpec

# (row, the CLI command and option, the Plan, Conditions or LoadSpec field it fills)
CLI = [("items", "run", "--items", "items"), ("repeats", "run", "--repeat", "repeats"),
       ("warm-up", "run", "--warmup", "warmup"), ("seed", "run", "--seed", "seed"),
       ("threads", "run", "--threads", "threads"), ("concurrency", "run", "--concurrency", "concurrency"),
       ("max attempts", "run", "--max-attempts", "max_attempts"),
       ("request timeout", "run", "--request-timeout", "request_timeout"), ("workers", "run", "--workers", "workers"),
       ("latency_ms", "run", "--latency-ms", "latency_ms"), ("jitter_ms", "run", "--jitter-ms", "jitter_ms"),
       ("item bytes", "plan-load", "--item-bytes", "item_bytes"), ("threads", "plan-load", "--threads", "threads"),
       ("concurrency", "plan-load", "--concurrency", "concurrency")]


def option(command: str, flag: str) -> argparse.Action:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.Action = next(a for a in commands.choices[command]._actions if flag in a.option_strings)
    return found


def build(row: Limit, value: Any, field: str) -> object:
    if row.name in ("latency_ms", "jitter_ms"):
        conditions: dict[str, Any] = {field: value}
        return Conditions(**conditions)
    if row.name == "item bytes":
        return LoadSpec(items=10, item_bytes=int(value))
    fields: dict[str, Any] = {field: value}
    return Plan(**fields)


@pytest.mark.parametrize(("name", "command", "flag", "field"), CLI)
def test_the_cli_s_option_has_the_row_s_default_and_range(name: str, command: str, flag: str, field: str) -> None:
    row, action = LIMITS[name], option(command, flag)
    if action.default is not None:
        assert action.default == row.default
    assert action.help is not None and row.range_text in action.help


@pytest.mark.parametrize(("name", "field"), sorted({(name, field) for name, command, _, field in CLI
                                                    if command == "run"}))
def test_a_plan_takes_the_row_s_ends_and_refuses_past_them(name: str, field: str) -> None:
    row = LIMITS[name]
    build(row, row.low, field)
    build(row, row.high, field)
    step = 1 if row.whole else 0.01
    for outside in (row.low - step, row.high + step):
        said = re.escape(f"{row.name} must be between {row.range_text.replace(' to ', ' and ')}, got")
        with pytest.raises(ConfigError, match=f"^{said}"):
            build(row, outside, field)


def test_a_plan_s_defaults_are_the_rows() -> None:
    plan = Plan()
    for name, field in (("items", "items"), ("repeats", "repeats"), ("warm-up", "warmup"), ("seed", "seed"),
                        ("threads", "threads"), ("concurrency", "concurrency"), ("max attempts", "max_attempts"),
                        ("request timeout", "request_timeout"), ("workers", "workers")):
        assert getattr(plan, field) == LIMITS[name].default, name
    spec = LoadSpec(items=10, item_bytes=100)
    assert (spec.threads, spec.concurrency) == (LIMITS["threads"].default, LIMITS["concurrency"].default)


@pytest.mark.parametrize("name", ["plan items", "item bytes", "threads", "concurrency"])
def test_the_planner_s_load_spec_takes_the_row_s_range(name: str) -> None:
    row = LIMITS[name]
    field = {"plan items": "items", "item bytes": "item_bytes"}.get(name, name)
    values: dict[str, Any] = {"items": 10, "item_bytes": 100}
    LoadSpec(**{**values, field: int(row.high)})
    with pytest.raises(ConfigError, match=re.escape(f"must be a whole number from {row.range_text}, got")):
        LoadSpec(**{**values, field: int(row.high) + 1})


def test_a_seed_the_plan_allows_is_one_the_page_allows() -> None:
    """The page took seeds up to 2**31-1 while a Plan (and so the CLI and the history) took up to 2**63-1."""
    from core.app.pages.common import NUMBERS, form_defaults, limit_help
    from core.app.wording import parse_whole

    row = LIMITS["seed"]
    assert parse_whole(str(2**63 - 1), row.label, int(row.low), int(row.high)) == 2**63 - 1
    Plan(seed=2**63 - 1)
    assert set(NUMBERS) <= set(form_defaults())
    assert all(form_defaults()[name] == row.default_text for name in NUMBERS for row in [LIMITS[name]])
    assert all(LIMITS[name].range_text in limit_help(name) for name in NUMBERS)


@pytest.mark.parametrize(("name", "command", "flag", "field"), [row for row in CLI if row[2] != "--items"])
def test_the_cli_refuses_past_a_row_s_ends_naming_the_flag_with_grouped_numbers(
        name: str, command: str, flag: str, field: str, capsys: pytest.CaptureFixture[str]) -> None:
    row = LIMITS[name]
    step = 1 if row.whole else 0.01
    for outside in (row.low - step, row.high + step):
        typed = f"{outside:.0f}" if row.whole else f"{outside:.2f}"
        required = ["--items", "10", "--item-bytes", "100"] if command == "plan-load" and flag != "--item-bytes" \
            else ["--items", "10"] if command == "plan-load" else []
        assert main([command, *required, flag, typed, "--dry-run" if command == "run" else "--json"]) == 2
        err = capsys.readouterr().err
        value = float(typed)
        shown = f"{value:,.0f}" if value == int(value) else f"{value:,}"
        assert err == (f"error: {flag} must be between {row.range_text.replace(' to ', ' and ')}, got {shown} "
                       f"(see python -m core {command} --help)\n"), err


@pytest.mark.parametrize(("value", "said"), [(60_001.0, "got 60,001"), (-0.5, "got -0.5"), (-1, "got -1")])
def test_a_limit_says_the_value_grouped(value: float, said: str) -> None:
    with pytest.raises(ConfigError, match=f"^latency_ms must be between 0 and 60,000 ms, {said}$"):
        LIMITS["latency_ms"].check(value)
