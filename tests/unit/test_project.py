"""pyproject.toml declares what requirements*.txt pin, the same versions (lab.sh installs the files)."""

from __future__ import annotations

import re
import tomllib

from core.paths import REPO_ROOT


def pins(path: str) -> set[str]:
    lines = (REPO_ROOT / path).read_text().splitlines()
    return {re.sub(r"\s+#.*", "", line).strip() for line in lines if line.strip() and not line.startswith(("#", "-r"))}


def test_pyproject_declares_the_pinned_requirements() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = set(project["dependencies"]) | set(extras["scale-out"]) | set(extras["peers"])
    assert runtime == pins("requirements.txt")
    assert set(extras["dev"]) == pins("requirements-dev.txt")
    assert all("==" in pin for pin in runtime | set(extras["dev"]))
