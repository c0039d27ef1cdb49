"""The CLI's help and its parser: where to start, examples, groups, defaults, --version, "did you mean", counts."""

from __future__ import annotations

import argparse
import re
import tomllib

import pytest

import core
from core.app.cli import build_parser, main
from core.domain.errors import ConfigError
from core.domain.numbers import parse_count
from core.paths import REPO_ROOT
from core.servers.localstack import main as localstack_main

COMMANDS = ("run", "plan-load", "aws-check", "proxy", "proxy-report")


def help_of(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_bare_python_m_core_prints_help_that_starts_you(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.index("start here:") < out.index("commands:")
    assert "  python -m core run " in out and "  python -m core plan-load --items 10M" in out
    for command in (*COMMANDS, "localstack"):
        assert re.search(rf"^    {command}\b", out, re.M), command


def test_version_comes_from_one_place(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"dynamodb-write-lab {core.__version__}"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "core.__version__"}


@pytest.mark.parametrize(("command", "examples"), [("run", 4), ("plan-load", 4), ("aws-check", 3), ("proxy", 4),
                                                   ("emulator", 4),
                                                   ("proxy-report", 2)])
def test_every_command_has_a_description_and_examples(command: str, examples: int,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(command, capsys=capsys)
    name = "proxy" if command == "emulator" else command
    assert out.startswith(f"usage: python -m core {name} ")
    description = out.split("\n\n")[1]
    assert len(description.split()) >= 15, description
    shown = re.findall(rf"^  python -m core {name}\b", out.split("examples:")[1], re.M)
    assert len(shown) >= examples


def test_localstack_has_a_description_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        localstack_main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m core localstack")
    assert len(re.findall(r"^  (python -m core|\./lab\.sh) localstack\b", out, re.M)) >= 3
    assert "--verbose" in out


def subparsers() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help(command: str) -> None:
    parser = subparsers()[command]
    missing = [a.option_strings[0] for a in parser._actions if a.option_strings and not a.help]
    assert missing == []


def test_run_s_options_come_in_groups_with_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of("run", capsys=capsys)
    titles = re.findall(r"^(\S[^:\n]*):$", out, re.M)
    assert titles == ["examples", "options", "target", "workload", "concurrency and retries",
                      "conditions and capacity", "scale-out", "s3-import and bulk-put", "output"]
    groups = {title: body for title, body in re.findall(r"^(\S[^:\n]*):\n(.*?)(?=\n\n|\Z)", out, re.M | re.S)}
    for option in ("--target", "--endpoint-url", "--region", "--profile"):
        assert option in groups["target"]
    for option in ("--items", "--approaches", "--repeat", "--seed", "--sweep"):
        assert option in groups["workload"]
    for option in ("--threads", "--concurrency", "--max-attempts", "--retry-mode"):
        assert option in groups["concurrency and retries"]
    assert "--workers" in groups["scale-out"] and "--json" in groups["output"]
    flat = " ".join(out.split())
    for shown in ("(default: embedded)", "(default: us-east-1)", "(default: 1000)", "(default: 100)",
                  "(default: standard)", "(default min(32, cpu+4))"):
        assert shown in flat
    assert "(default: None)" not in flat and "(default: False)" not in flat


@pytest.mark.parametrize(("args", "message"), [
    (["rn"], "invalid choice: 'rn' (did you mean 'run'?); choose from run, plan-load, aws-check, proxy, emulator, "
             "proxy-report, localstack (see python -m core --help)"),
    (["plan-laod"], "(did you mean 'plan-load'?)"),
    (["run", "--approaches", "threded"], "unknown approach 'threded' (did you mean 'threaded'?)"),
    (["run", "--target", "emebdded"], "(did you mean 'embedded'?); choose from embedded, dynamodb-local,"),
    (["run", "--retry-mode", "adaptiv"], "(did you mean 'adaptive'?)"),
    (["plan-load", "--items", "10", "--item-bytes", "5", "--table", "exisitng"], "(did you mean 'existing'?)"),
    (["plan-load", "--items", "10", "--item-bytes", "5", "--tabel", "new"],
     "unrecognized arguments: --tabel new (did you mean '--table'?) (see python -m core plan-load --help)"),
    (["proxy", "--netwrk", "none"], "(did you mean '--network'?) (see python -m core proxy --help)"),
    (["emulator", "--network", "moon"], "(see python -m core proxy --help)"),
    (["proxy-report"], "the following arguments are required: --url (see python -m core proxy-report --help)"),
    (["aws-check", "--s3-bucket", "b", "--items", "1m"], "--items must be a whole number from 1 to 100,000, got '1m' "
                                                         "(see python -m core aws-check --help)"),
])
def test_errors_name_the_closest_choice_and_the_right_help(args: list[str], message: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "core core" not in err


@pytest.mark.parametrize(("text", "count"), [("10M", 10**7), ("1e9", 10**9), ("10_000", 10_000), ("2.5k", 2_500),
                                             ("1,000", 1_000), (" 7 ", 7), ("1T", 10**12), ("2.5e3", 2_500),
                                             ("0.5k", 500), ("1B", 10**9)])
def test_counts_as_people_type_them(text: str, count: int) -> None:
    assert parse_count(text, "--items", 1, 10**12) == count


@pytest.mark.parametrize("text", ["1.5", "-3", "0", "ten", "1e400", "1e99999999999", "2T", "1.5e0", "k", ""])
def test_counts_refused_in_one_line_naming_the_limit(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--items must be a whole number from 1 to 1,000,000,000,000, got "):
        parse_count(text, "--items", 1, 10**12)


def test_plan_load_reads_counts_through_the_same_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan-load", "--items", "1e9", "--item-bytes", "100", "--history", "off", "--json"]) == 0
    assert '"items": 1000000000' in capsys.readouterr().out
    assert main(["plan-load", "--items", "1.5", "--item-bytes", "100", "--history", "off"]) == 2
    assert capsys.readouterr().err == ("error: --items must be a whole number from 1 to 1,000,000,000,000, got "
                                       "'1.5' (see python -m core plan-load --help)\n")


def test_history_is_described_once_for_every_command_that_takes_it() -> None:
    parsers = subparsers()
    helps = {command: next(a.help for a in parsers[command]._actions if "--history" in a.option_strings)
             for command in ("run", "plan-load", "aws-check")}
    assert len(set(helps.values())) == 1, helps
    assert "LAB_HISTORY_PATH" in (helps["plan-load"] or "")
