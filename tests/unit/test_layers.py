"""The layers hold: the lowest two load no client library, no Faker and no Streamlit (import-linter checks the
rest of the order in ``./lab.sh test``)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import core.domain
import core.wire
from core.paths import REPO_ROOT

HEAVY = ("boto3", "botocore", "aiohttp", "aiobotocore", "faker", "streamlit", "plotly", "psutil", "dask")


@pytest.mark.parametrize("package", [core.domain, core.wire])
def test_the_pure_layers_load_no_heavy_library(package: object) -> None:
    names = [package.__name__] + [f"{package.__name__}.{m.name}"  # type: ignore[attr-defined]
                                  for m in pkgutil.iter_modules(package.__path__)]  # type: ignore[attr-defined]
    script = (f"import importlib, json, sys\nfor name in {names!r}: importlib.import_module(name)\n"
              f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                       cwd=REPO_ROOT).stdout)
    assert len(names) > 3 and loaded == []
