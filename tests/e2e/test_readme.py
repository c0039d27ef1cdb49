"""Every command the README and ``docs/*.md`` show runs as written: ``run`` and ``aws-check`` commands with
``--dry-run`` added (the plan, the outputs and the off-machine check all happen; nothing is sent), the ``emulator``
command for real, ``plan-load`` commands (which send nothing) for real, their printed answers compared with the
page's."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.app.cli import main
from core.paths import REPO_ROOT

DOCUMENTS = (REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")))


def commands_in(text: str, prefix: str) -> list[list[str]]:
    """A page's shell lines that start with ``prefix`` (continuations joined, comments dropped), in order."""
    blocks = re.findall(r"```sh\n(.*?)```", text.replace("\\\n", " "), flags=re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[len(shlex.split(prefix)):] for line in lines if line.startswith(prefix)]


def readme_commands(prefix: str) -> list[list[str]]:
    """The shell lines of the README and ``docs/*.md`` that start with ``prefix``, each once, README first."""
    found: list[list[str]] = []
    for document in DOCUMENTS:
        found += [args for args in commands_in(document.read_text(), prefix) if args not in found]
    return found


def test_the_readme_keeps_exactly_the_two_quick_start_commands_and_stays_a_front_door() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)
    assert [line.split("#", 1)[0].strip() for line in block.splitlines()] == ["./lab.sh app", "./lab.sh test"]
    assert len(text.splitlines()) <= 200
    assert len(commands_in(text, ".venv/bin/python -m core")) == 5  # the five CLI examples


def test_every_page_the_readme_links_exists_and_every_page_is_linked() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\((docs/[^)#]+)", text))
    assert all((REPO_ROOT / path).exists() for path in linked), linked
    assert {f"docs/{page.name}" for page in DOCUMENTS[1:]} <= linked


RUNS = readme_commands(".venv/bin/python -m core run")


def test_the_readme_shows_run_commands() -> None:
    assert len(RUNS) >= 5 and ["--help"] in RUNS


@pytest.mark.parametrize("args", [a for a in RUNS if a != ["--help"]], ids=" ".join)
def test_every_run_command_in_the_readme_is_accepted_as_written(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # outputs such as run.json are checked there; none is written by a dry run
    for name in ("AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", *args, "--dry-run"]) == 0, capsys.readouterr().err
    assert "dry run: nothing was sent" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


CHECKS = readme_commands(".venv/bin/python -m core aws-check")


@pytest.mark.parametrize("args", CHECKS, ids=" ".join)
def test_every_aws_check_command_in_the_readme_is_accepted_as_written(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """aws-check needs AWS: run as written with --dry-run added (the confirmation is printed, nothing is sent)."""
    monkeypatch.chdir(tmp_path)
    assert CHECKS, "neither the README nor docs/ show an aws-check command"
    assert main(["aws-check", *args, "--dry-run"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "dry run: nothing was sent" in err and "create the on-demand table" in err
    assert list(tmp_path.iterdir()) == []


def test_the_emulator_command_in_the_docs_starts_and_stops_cleanly() -> None:
    (args,) = readme_commands(".venv/bin/python -m core emulator")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8000)) == 0:
            pytest.skip("port 8000, which the README's command uses, is taken on this machine")
    process = subprocess.Popen([sys.executable, "-m", "core", "emulator", *args], cwd=REPO_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Embedded DynamoDB (dynalite) at http://127.0.0.1:8000"), process.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


PLANS = readme_commands(".venv/bin/python -m core plan-load")


def printed_answers() -> dict[str, str]:
    """The plan-load commands followed by a ```text block: the command's arguments -> the text shown."""
    pattern = r"```sh\n\.venv/bin/python -m core plan-load ([^\n]*)\n```\n\n```text\n(.*?)\n```"
    return {args: shown for document in DOCUMENTS for args, shown in re.findall(pattern, document.read_text(), re.S)}


def test_the_readme_answers_for_ten_thousand_ten_million_and_a_billion_items() -> None:
    answers = printed_answers()
    assert len(PLANS) >= 5
    for items in ("10000", "10000000", "1000000000"):
        assert any(f"--items {items} " in args for args in answers), items


@pytest.mark.parametrize("args", PLANS, ids=" ".join)
def test_every_plan_load_command_in_the_readme_prints_what_the_readme_shows(
        args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # printed as to a file: 100 columns
    assert main(["plan-load", *args, "--history", "off"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    shown = printed_answers().get(" ".join(args))
    if shown is not None:  # the whole answer, as printed (the bases behind --explain name this interpreter)
        assert out.rstrip() == shown
        assert max(len(line) for line in out.splitlines()) <= 100
