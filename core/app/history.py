"""History: every benchmark report appended to a local SQLite database, to list and compare later.

``History(path)`` opens or creates the database; a corrupt, unreadable or read-only file is a ``ConfigError`` naming
the file and the fix. Stored reports are the JSON export (no secrets); ``append_check``/``checks`` keep the bulk puts
timed by ``aws-check``. Files written by earlier versions still open.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from core.app.export import to_dict
from core.domain.bulkmodel import MeasuredBulk
from core.domain.capacity import Capacity
from core.domain.errors import ConfigError
from core.domain.results import Report

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
CHECKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bulk_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    emulated INTEGER NOT NULL,
    figures TEXT NOT NULL
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
    capacity: str = "off"  # the plan's capacity model, as the CLI spells it
    rehearsal: bool = False  # the AWS dress rehearsal (preset aws-like)
    workers: int = 1


def _capacity_text(stored: Any) -> str:
    """A stored plan's capacity as the CLI spells it ('off' when absent or not what the lab wrote)."""
    try:
        return str(Capacity(**stored)) if isinstance(stored, dict) else "off"
    except (TypeError, ConfigError):
        return "off"


class History:
    def __init__(self, path: Path | str | None = None, elsewhere: str = "choose another file with --history") -> None:
        self.path = Path(path) if path else default_path()
        self._fix = f"move {self.path} away or {elsewhere}"
        self.skipped: dict[int, str] = {}  # row id -> why it could not be read (rows are skipped, never changed)
        self.skipped_checks: dict[int, str] = {}  # the same for the bulk_checks table
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise ConfigError(f"history file {self.path} is read-only: {self._fix}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(SCHEMA)
                db.execute(CHECKS_SCHEMA)
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

    def _rows(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._connect() as db:
                return db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"history file {self.path} cannot be read ({error}): {self._fix}") from None

    def _report(self, row_id: int, text: Any) -> dict[str, Any] | None:
        """A row's stored report, or None (and the row in ``skipped``) when it is not one the lab can read."""
        try:
            data: Any = json.loads(text) if isinstance(text, (str, bytes)) else None
            problem = report_problem(data)
        except ValueError:
            problem = "the report is not JSON"
        if problem is not None:
            self.skipped[row_id] = problem
            return None
        checked: dict[str, Any] = data
        return checked

    def skipped_lines(self) -> list[str]:
        """One line per row skipped so far because it could not be read (the file is left as it is)."""
        return [f"history file {self.path}: row {row_id} skipped ({problem}); the file is left as it is"
                for row_id, problem in sorted(self.skipped.items())] + [
            f"history file {self.path}: aws-check row {row_id} skipped ({problem}); the file is left as it is"
            for row_id, problem in sorted(self.skipped_checks.items())]

    def append_check(self, figures: MeasuredBulk) -> int:
        """Store one aws-check's figures (emulated ones too, marked so)."""
        try:
            with self._connect() as db:
                cursor = db.execute("INSERT INTO bulk_checks (created, emulated, figures) VALUES (?, ?, ?)",
                                    (figures.created, int(not figures.on_aws), json.dumps(figures.as_dict())))
                return int(cursor.lastrowid or 0)
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"history file {self.path} cannot be written ({error}): {self._fix}") from None

    def checks(self, limit: int = 50) -> list[MeasuredBulk]:
        """The latest ``limit`` aws-check figures, newest first; unreadable rows skipped (see ``skipped_lines``)."""
        out = []
        for row_id, text in self._rows("SELECT id, figures FROM bulk_checks ORDER BY id DESC LIMIT ?", (limit,)):
            try:
                data = json.loads(text) if isinstance(text, (str, bytes)) else None
                if not isinstance(data, dict):
                    raise ConfigError("the figures are not a JSON object")
                out.append(MeasuredBulk.from_dict(data))
            except (ValueError, ConfigError) as error:
                self.skipped_checks[row_id] = str(error)[:120]
        return out

    def entries(self, limit: int = 200) -> list[Entry]:
        """The latest ``limit`` rows, newest first; unreadable rows skipped (see ``skipped_lines``)."""
        rows = self._rows("SELECT id, created, target, items, approaches, clean, report FROM reports "
                          "ORDER BY id DESC LIMIT ?", (limit,))
        entries = []
        for row_id, created, target, items, approaches, clean, text in rows:
            data = self._report(row_id, text)
            if data is None:
                continue
            if not (_number(created) and isinstance(target, str) and isinstance(items, int)
                    and isinstance(approaches, str)):
                self.skipped[row_id] = "its created, target, items or approaches column is not what the lab wrote"
                continue
            entries.append(Entry(row_id, float(created), target, items, tuple(approaches.split(",")), bool(clean),
                                 data["plan"].get("conditions") or {},
                                 sum(float(run["seconds"]) for run in data["runs"]), data.get("cancelled") is True,
                                 _capacity_text(data["plan"].get("capacity")), data["plan"].get("rehearsal") is True,
                                 int(data["plan"].get("workers") or 1)))
        return entries

    def reports(self, limit: int = 100) -> list[dict[str, Any]]:
        """The stored JSON exports of the latest ``limit`` reports, newest first (the estimate calibrates on them);
        unreadable rows skipped (see ``skipped_lines``)."""
        rows = self._rows("SELECT id, report FROM reports ORDER BY id DESC LIMIT ?", (limit,))
        return [data for row_id, text in rows if (data := self._report(row_id, text)) is not None]

    def load(self, entry_id: int) -> dict[str, Any]:
        """The stored JSON export of one report (``ConfigError`` when there is none or it cannot be read)."""
        rows = self._rows("SELECT id, report FROM reports WHERE id = ?", (entry_id,))
        if not rows:
            raise ConfigError(f"no report #{entry_id} in {self.path}")
        data = self._report(*rows[0])
        if data is None:
            raise ConfigError(f"report #{entry_id} in {self.path} cannot be read ({self.skipped[entry_id]})")
        return data


_NUMBER = (int, float)
_PLAN_FIELDS: dict[str, Any] = {"target": str, "items": int, "approaches": list}
_PLAN_OPTIONAL: dict[str, Any] = {"threads": int, "concurrency": int, "conditions": dict, "capacity": dict,
                                  "endpoint_url": str}
_RUN_FIELDS: dict[str, Any] = {"approach": str, "repeat": int, "items": int, "seconds": _NUMBER,
                               "items_per_second": _NUMBER, "retries": int, "failed_items": int, "latency_ms": dict,
                               "verification": dict}
_RUN_OPTIONAL: dict[str, Any] = {"unknown_items": int, "capacity": dict}


def _number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool) and math.isfinite(value)


def _wrong(data: Mapping[str, Any], fields: Mapping[str, Any], where: str, optional: bool = False) -> str | None:
    """The first field of ``data`` that is missing (unless ``optional``) or of another type than ``fields`` says."""
    for name, kind in fields.items():
        if name not in data or (optional and data[name] is None):
            if optional:
                continue
            return f"{where}{name} is missing"
        value = data[name]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind) \
                or (kind is _NUMBER and not _number(value)):
            return f"{where}{name} is {json.dumps(value)[:40]}"
    return None


def report_problem(data: Any) -> str | None:
    """Why a stored report cannot be read back (None when it can): every field the estimate, the planner and the
    page read, with its type. Reports stored before optional fields existed still pass."""
    if not isinstance(data, dict):
        return f"the report is {json.dumps(data)[:40]}, not an object"
    if not _number(data.get("created")):
        return "created is missing or not a number"
    plan, runs = data.get("plan"), data.get("runs")
    if not isinstance(plan, dict):
        return "plan is missing or not an object"
    problem = (_wrong(data, {"cancelled": bool, "environment": dict}, "", optional=True)
               or _wrong(plan, _PLAN_FIELDS, "plan.") or _wrong(plan, _PLAN_OPTIONAL, "plan.", optional=True))
    if problem is None and not all(_number(v) for v in (plan.get("conditions") or {}).values()):
        problem = "plan.conditions holds something other than numbers"
    if problem is None and not isinstance(runs, list):
        problem = "runs is missing or not a list"
    for index, run in enumerate(runs if problem is None and isinstance(runs, list) else ()):
        where = f"runs[{index}]."
        if not isinstance(run, dict):
            return f"runs[{index}] is not an object"
        problem = (_wrong(run, _RUN_FIELDS, where) or _wrong(run, _RUN_OPTIONAL, where, optional=True)
                   or _wrong(run["latency_ms"], dict.fromkeys(("p50", "p95", "p99", "max"), _NUMBER),
                             f"{where}latency_ms.")
                   or _wrong(run["verification"], dict.fromkeys(("expected", "found"), int), f"{where}verification."))
        if problem is not None:
            break
    return problem
