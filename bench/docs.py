"""Measured tables in the README and docs/, rewritten by the bench script that measures them (``--write-docs``).

A table lives between ``<!-- bench.NAME:begin -->`` and ``<!-- bench.NAME:end -->`` in one page; ``write_section``
replaces what is between the markers and nothing else, and refuses a page without them (so a moved table is never
written twice or lost).
"""

from __future__ import annotations

import datetime
import os
import platform

from core.paths import REPO_ROOT


def with_section(text: str, name: str, body: str) -> str:
    """``text`` with the section ``name`` replaced by ``body``; ValueError when its markers are not there once."""
    begin, end = f"<!-- bench.{name}:begin -->\n", f"<!-- bench.{name}:end -->"
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"the markers of bench.{name} are not in the page once each, in order")
    head, rest = text.split(begin)
    return head + begin + body.rstrip("\n") + "\n" + end + rest.split(end, 1)[1]


def write_section(page: str, name: str, body: str) -> None:
    """Replace the section ``name`` of ``page`` (a path from the repository root, e.g. ``docs/performance.md``)."""
    path = REPO_ROOT / page
    path.write_text(with_section(path.read_text(), name, body))
    print(f"wrote the bench.{name} table into {page}")


def stamp(command: str) -> str:
    """The line under a table: the command, when, and on what machine (cores, load, Python)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Written by `{command}` on {now}: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
            f"Python {platform.python_version()}.")
