"""What the lab keeps stays intact: no export writes over a history or a file that is not an export, however the
path is spelt; the CLI and the page find the history in one way (``LAB_HISTORY_PATH``, else the data folder)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.app.cli import main
from core.app.export import to_csv, to_json
from core.app.history import History, default_path, standard_path
from core.domain.plan import Plan
from core.domain.results import Report
from core.paths import REPO_ROOT

Spelling = Callable[[Path, Path], str]  # (the history in use, a scratch folder) -> the path typed


def _symlink(history: Path, scratch: Path) -> str:
    (scratch / "link.db").symlink_to(history)
    return str(scratch / "link.db")


def _hard_link(history: Path, scratch: Path) -> str:
    os.link(history, scratch / "hard.db")
    return str(scratch / "hard.db")


def _dotdot(history: Path, scratch: Path) -> str:
    return f"{history.parent}/../{history.parent.name}/./{history.name}"


def _relative(history: Path, scratch: Path) -> str:
    return os.path.relpath(history, Path.cwd())


def _link_to_folder(history: Path, scratch: Path) -> str:
    (scratch / "data").symlink_to(history.parent, target_is_directory=True)
    return str(scratch / "data" / history.name)


def _side_file(history: Path, scratch: Path) -> str:
    return f"{history}-wal"  # SQLite's write-ahead log beside it: does not exist yet


SPELLINGS: dict[str, Spelling] = {
    "as is": lambda history, scratch: str(history), "symlink": _symlink, "hard link": _hard_link,
    "dot-dot": _dotdot, "relative": _relative, "symlinked folder": _link_to_folder, "side file": _side_file,
    "tilde": lambda history, scratch: "~/" + os.path.relpath(history, Path.home()),
}


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A user data folder and home of their own; the standard history exists and holds one run."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LAB_HISTORY_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    History().append(Report(Plan(items=7), {}, ()))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return standard_path(), scratch


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of an exit-2 refusal (nothing ran: no plan line)."""
    assert main(["run", "--items", "5", "--approaches", "async", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Plan:" not in err, err
    return err


@pytest.mark.parametrize("flag", ["--json", "--csv"])
@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_no_export_writes_over_the_default_history_however_spelt(
        spelling: str, flag: str, places: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    history, scratch = places
    before = history.read_bytes()
    assert "is the lab's history" in refused([flag, SPELLINGS[spelling](history, scratch)], capsys)
    assert history.read_bytes() == before and not Path(f"{history}-wal").exists()
    assert [entry.items for entry in History(history).entries()] == [7]


@pytest.mark.parametrize("spelling", ["as is", "symlink", "hard link", "dot-dot"])
def test_no_export_writes_over_lab_history_path_nor_the_standard_one_while_another_is_named(
        spelling: str, places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    standard, scratch = places
    chosen = scratch / "chosen.sqlite3"
    monkeypatch.setenv("LAB_HISTORY_PATH", str(chosen))
    History().append(Report(Plan(items=9), {}, ()))
    for kept in (chosen, standard):  # LAB_HISTORY_PATH's, and the standard one though --history names a third
        before = kept.read_bytes()
        folder = scratch / kept.stem
        folder.mkdir()
        typed = SPELLINGS[spelling](kept, folder)
        for history in ([], ["--history", str(scratch / "third.sqlite3")]):
            assert "is the lab's history" in refused(["--json", typed, *history], capsys)
        assert kept.read_bytes() == before


def test_no_export_writes_over_a_history_that_does_not_exist_yet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("LAB_HISTORY_PATH", raising=False)
    standard_path().parent.mkdir(parents=True)
    (tmp_path / "dangling").symlink_to(standard_path())
    assert "is the lab's history" in refused(["--json", str(tmp_path / "dangling")], capsys)
    assert not standard_path().exists()


@pytest.mark.parametrize("kept", ["README.md", "core/app/cli.py", "requirements.txt", "package-lock.json"])
def test_no_export_writes_over_a_file_that_is_not_an_export(kept: str, places: tuple[Path, Path],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The rule looks at what a file holds: a copy of the lab's own files stands in for them (a regression must not
    overwrite the working tree)."""
    _, scratch = places
    path = scratch / Path(kept).name
    path.write_bytes((REPO_ROOT / kept).read_bytes())
    before = path.read_bytes()
    (scratch / "alias").symlink_to(path)
    for typed in (str(path), str(scratch / "alias"), os.path.relpath(path, Path.cwd())):
        assert "exists and is not an export of the lab" in refused(["--csv", typed, "--history", "off"], capsys)
    assert path.read_bytes() == before


def test_an_export_replaces_an_earlier_export_an_empty_file_or_a_new_one(places: tuple[Path, Path]) -> None:
    _, scratch = places
    report = Report(Plan(items=3), {}, ())
    (scratch / "old.json").write_text(to_json(report))
    (scratch / "old.csv").write_text(to_csv(report))
    (scratch / "empty.json").touch()
    for name in ("old.json", "old.csv", "empty.json"):
        args = ["--items", "3", "--approaches", "async", "--history", "off", "--dry-run", "--json", str(scratch / name)]
        assert main(["run", *args]) == 0


def test_the_cli_records_in_lab_history_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    chosen = tmp_path / "page.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LAB_HISTORY_PATH", str(chosen))
    assert default_path() == chosen and History().path == chosen  # what the page opens
    assert main(["run", "--items", "5", "--approaches", "async"]) == 0, capsys.readouterr().err
    assert [entry.items for entry in History(chosen).entries()] == [5]
    assert not standard_path().exists()
    assert main(["plan-load", "--items", "1000", "--item-bytes", "100", "--target", "embedded", "--json"]) == 0
    assert '"calibrated_runs": 1' in capsys.readouterr().out
