"""The CLI as a terminal shows it: a pseudo-terminal of 80 and 120 columns read through a terminal emulator (pyte),
and the same run piped to files, with NO_COLOR, TERM=dumb, FORCE_COLOR and an encoding that cannot draw the bars.
Runs are small ones on the embedded engine."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

from core.paths import REPO_ROOT

APPROACHES = ("sequential", "threaded", "async")
RUN = ("run", "--items", "150", "--approaches", ",".join(APPROACHES), "--history", "off")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def in_terminal(columns: int, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], bytes]:
    """Run ``python -m core *args`` in a pseudo-terminal ``columns`` wide: its exit code, the screen's lines as a
    terminal shows them at the end, and the raw bytes written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    environ = {**os.environ, "COLUMNS": str(columns), "LINES": "60", "TERM": "xterm-256color", **(env or {})}
    for name in ("NO_COLOR", "FORCE_COLOR"):
        if name not in (env or {}):
            environ.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "core", *args], stdin=slave, stdout=slave, stderr=slave,
                               env=environ, cwd=REPO_ROOT, close_fds=True)
    os.close(slave)
    data, deadline = b"", time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                data += chunk
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        process.wait()
    screen = pyte.Screen(columns, 400)
    pyte.ByteStream(screen).feed(data)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return process.returncode, lines, data


def progress_lines(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{name} #1 ") and "━" in line]


@pytest.mark.parametrize("columns", [80, 120])
def test_a_run_in_a_terminal_fits_its_width_with_one_progress_line_per_approach(columns: int) -> None:
    code, lines, raw = in_terminal(columns, *RUN)
    assert code == 0, "\n".join(lines)
    assert max(len(line) for line in lines) <= columns
    for name in APPROACHES:
        assert len(progress_lines(lines, name)) == 1, "\n".join(lines)
        (line,) = progress_lines(lines, name)
        assert "150/150" in line and "items/s" in line
    assert len([line for line in lines if line.startswith("overall, 3 runs done")]) == 1
    screen = "\n".join(lines)
    assert "speed-up" in screen and "found" in screen
    assert "Use " in screen and "x sequential by items/s" in " ".join(screen.split())
    assert re.search(r"^sequential +1 +OK +150/150", screen, re.M)
    assert b"\x1b[" in raw and "\n".join(lines).count("Plan: 150 books") == 1


def test_no_color_and_a_dumb_terminal() -> None:
    code, lines, raw = in_terminal(80, *RUN, env={"NO_COLOR": "1"})
    assert code == 0 and not re.search(rb"\x1b\[[0-9;]*3[0-7]m", raw)  # no colour, yet the bars redraw in place
    code, lines, raw = in_terminal(80, *RUN, env={"TERM": "dumb"})
    assert code == 0 and b"\x1b[" not in raw  # no cursor movement: plain lines as in a log
    assert [line for line in lines if line.startswith("sequential #1 done (run 1 of 3): 150/150 items")]
    assert max(len(line) for line in lines) <= 80


def piped(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=cwd,
                          env={**environ, **(env or {})}, timeout=180, errors="replace")


def test_a_piped_run_tells_the_same_story() -> None:
    result = piped(*RUN)
    assert result.returncode == 0, result.stderr
    out, err = result.stdout, result.stderr
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "\x1b[" not in out + err
    for name in APPROACHES:  # progress as plain lines: the write, and the end with the table's items/s
        assert f"{name} #1 write (run " in err
        done = re.search(rf"^{name} #1 done \(run \d of 3\): 150/150 items, [\d.]+ s, ([\d,]+) items/s", err, re.M)
        assert done, err
        row = re.search(rf"^{name} +1 +[\d.]+ +([\d,]+) ", out, re.M)
        assert row and row.group(1) == done.group(1)  # the rate at the end is the table's
    assert "Use " in out and "by items/s, on embedded, no added latency" in " ".join(out.split())


def test_force_color_colours_ok_in_a_pipe() -> None:
    result = piped(*RUN, env={"FORCE_COLOR": "1"})
    assert result.returncode == 0 and re.search(r"\x1b\[[0-9;]*32m\s*OK", result.stdout)


def test_an_encoding_that_cannot_draw_bars_loses_nothing(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    result = piped(*RUN, "--json", str(target), env={"PYTHONIOENCODING": "cp1252"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "#" in result.stdout and "▇" not in result.stdout
    assert len(json.loads(target.read_text())["runs"]) == 3


def test_ctrl_c_under_gnu_timeout_counts_once_and_marks_the_partial_run(tmp_path: Path) -> None:
    """The terminal's SIGINT reaches the process group (timeout and the lab), and timeout forwards it too."""
    target = tmp_path / "r.csv"
    process = subprocess.Popen(["timeout", "300", sys.executable, "-m", "core", "run", "--network", "study-2022",
                                "--items", "2000", "--approaches", "async,sequential", "--history", "off", "--yes",
                                "--csv", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO_ROOT, start_new_session=True)
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if line.startswith("sequential #1 write"):
                break
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, stderr
    assert "interrupted again" not in stderr and "the run was interrupted" in stderr
    assert re.search(r"^sequential +1 .*INTERRUPTED", stdout, re.M)
    assert re.search(r"sequential #1: INTERRUPTED after [\d,]+ of 2,000 books; left out of the chart", stdout)
    chart = stdout.split("\n\n")[0]
    assert "async:" in chart and "sequential:" not in chart
    words = " ".join(stdout.split())  # the verdict folds to the width
    assert "Use async: " in words and "Interrupted, left out: sequential #1: " in words
    assert re.search(r"^sequential +1 +[\d.]+ +[\d,]+ +- ", stdout, re.M)  # no speed-up for the partial row
    assert target.read_text().splitlines()[2].endswith(",True")  # the export marks it too


@pytest.mark.parametrize("args", [(), ("run", "--help"), ("plan-load", "--help"), ("proxy", "--help"),
                                  ("proxy-report", "--help"), ("aws-check", "--help"), ("localstack", "--help")],
                         ids=" ".join)
def test_help_fits_an_80_column_terminal(args: tuple[str, ...]) -> None:
    code, lines, raw = in_terminal(80, *args)
    assert code == 0, "\n".join(lines)
    written = raw.decode().replace("\r", "").splitlines()  # as written, before the terminal wraps anything
    assert max(len(line) for line in written) <= 80, max(written, key=len)
    assert "examples:" in raw.decode() or "start here:" in raw.decode()
