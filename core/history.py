"""History: every benchmark report appended to a local SQLite database, to list and compare later.

Contract: ``History(path)`` opens (creating) the database; a corrupt, unreadable or read-only file is a
``ConfigError`` that names the file and the fix. Stored reports are the JSON export (no secrets).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from core.errors import ConfigError
from core.export import to_dict
from core.model import Report

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    target TEXT NOT NULL,
    items INTEGER NOT NULL,
    approaches TEXT NOT NULL,
    clean INTEGER NOT NULL,
    report TEXT NOT NULL
)
"""


HISTORY_ENV = "LAB_HISTORY_PATH"
SIDE_FILES = ("-journal", "-wal", "-shm")  # SQLite's files beside a database


def standard_path() -> Path:
    """history.sqlite3 in the user's data folder (XDG_DATA_HOME on Linux)."""
    return Path(platformdirs.user_data_dir("dynamodb-write-lab")) / "history.sqlite3"


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The history file when none is named: ``LAB_HISTORY_PATH`` if set, else ``standard_path()``. The one place
    this is decided: the CLI and the page both call it."""
    named = environ.get(HISTORY_ENV)
    return Path(named).expanduser() if named else standard_path()


def kept_paths(history: Path | None, environ: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """Every file a history may live in, whether or not it exists yet: ``history`` (the one in use, None when
    off), ``LAB_HISTORY_PATH``'s and the standard one, each with SQLite's side files. No export may write there."""
    named = environ.get(HISTORY_ENV)
    bases = [history, Path(named).expanduser() if named else None, standard_path()]
    return tuple(Path(f"{base}{suffix}") for base in bases if base is not None for suffix in ("", *SIDE_FILES))


@dataclass(frozen=True)
class Entry:
    id: int
    created: float
    target: str
    items: int
    approaches: tuple[str, ...]
    clean: bool
    conditions: Mapping[str, float] = field(default_factory=dict)  # the plan's latency, jitter and faults
    seconds: float = 0.0  # the runs' write seconds, summed
    cancelled: bool = False


class History:
    def __init__(self, path: Path | str | None = None, elsewhere: str = "choose another file with --history") -> None:
        self.path = Path(path) if path else default_path()
        self._fix = f"move {self.path} away or {elsewhere}"
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise ConfigError(f"history file {self.path} is read-only: {self._fix}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"history file {self.path} is unusable ({error}): {self._fix}") from None
        except OSError as error:
            raise ConfigError(f"history file {self.path} cannot be opened ({error.strerror}): {self._fix}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def append(self, report: Report) -> int:
        data = to_dict(report)
        try:
            with self._connect() as db:
                cursor = db.execute(
                    "INSERT INTO reports (created, target, items, approaches, clean, report) VALUES (?, ?, ?, ?, ?, ?)",
                    (report.created, report.plan.target, report.plan.items, ",".join(report.plan.approaches),
                     int(report.clean), json.dumps(data)))
                return int(cursor.lastrowid or 0)
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"history file {self.path} cannot be written ({error}): {self._fix}") from None

    def entries(self, limit: int = 200) -> list[Entry]:
        try:
            with self._connect() as db:
                rows = db.execute(
                    "SELECT id, created, target, items, approaches, clean, json_extract(report, '$.plan.conditions'), "
                    "(SELECT total(json_extract(value, '$.seconds')) FROM json_each(report, '$.runs')), "
                    "json_extract(report, '$.cancelled') FROM reports ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"history file {self.path} cannot be read ({error}): {self._fix}") from None
        return [Entry(r[0], r[1], r[2], r[3], tuple(r[4].split(",")), bool(r[5]), json.loads(r[6] or "{}"),
                      float(r[7] or 0.0), bool(r[8])) for r in rows]

    def reports(self, limit: int = 100) -> list[dict[str, Any]]:
        """The stored JSON exports of the latest ``limit`` reports, newest first (the estimate calibrates on them)."""
        try:
            with self._connect() as db:
                rows = db.execute("SELECT report FROM reports ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"history file {self.path} cannot be read ({error}): {self._fix}") from None
        return [json.loads(row[0]) for row in rows]

    def load(self, entry_id: int) -> dict[str, Any]:
        """The stored JSON export of one report."""
        with self._connect() as db:
            row = db.execute("SELECT report FROM reports WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise ConfigError(f"no report #{entry_id} in {self.path}")
        return json.loads(row[0])  # type: ignore[no-any-return]
