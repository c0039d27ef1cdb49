"""core.capacity: the --capacity text and its checks; and the JS capacity model's own unit tests (node --test)."""

from __future__ import annotations

import subprocess

import pytest

from core.capacity import Capacity, parse_capacity
from core.emulator import REPO_ROOT, node_executable
from core.errors import ConfigError


@pytest.mark.parametrize(("text", "expected"), [
    ("off", Capacity()),
    (" on-demand ", Capacity(mode="on-demand")),
    ("on-demand:warm=8000", Capacity(mode="on-demand", warm=8000)),
    ("on-demand:max=500", Capacity(mode="on-demand", max=500)),
    ("on-demand:warm=1000, max=2000", Capacity(mode="on-demand", warm=1000, max=2000)),
    ("provisioned=1000", Capacity(mode="provisioned", wcu=1000)),
    ("provisioned=40000", Capacity(mode="provisioned", wcu=40000)),
])
def test_parse_capacity(text: str, expected: Capacity) -> None:
    parsed = parse_capacity(text)
    assert parsed == expected
    assert parse_capacity(str(parsed)) == parsed  # the text form round-trips


@pytest.mark.parametrize(("text", "message"), [
    ("", "bad capacity ''"),
    ("ondemand", "bad capacity 'ondemand': use off, on-demand"),
    ("provisioned", "bad capacity 'provisioned'"),
    ("provisioned=", "capacity wcu must be a whole number"),
    ("provisioned=0", "from 1 to 40000, got 0"),
    ("provisioned=40001", "from 1 to 40000, got 40001"),
    ("provisioned=1.5", "got '1.5'"),
    ("provisioned=abc", "got 'abc'"),
    ("on-demand:", "bad on-demand option ''"),
    ("on-demand:warm", "bad on-demand option 'warm'"),
    ("on-demand:burst=5", "bad on-demand option 'burst=5'"),
    ("on-demand:warm=5,warm=6", "given twice"),
    ("on-demand:warm=3000,max=2000", "above its maximum 2000"),
])
def test_bad_capacity_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        parse_capacity(text)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("fields", "message"), [
    ({"mode": "fast"}, "unknown capacity mode"),
    ({"mode": "provisioned"}, "needs its WCU"),
    ({"mode": "on-demand", "wcu": 5}, "needs its WCU, and only it"),
    ({"mode": "off", "max": 5}, "on-demand capacity only"),
    ({"mode": "provisioned", "wcu": True}, "whole number"),
    ({"mode": "provisioned", "wcu": 2.0}, "whole number"),
])
def test_capacity_checks_its_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Capacity(**fields)  # type: ignore[arg-type]


def test_as_dict_is_what_the_proxy_takes() -> None:
    assert Capacity().as_dict() == {"mode": "off"}
    assert Capacity(mode="provisioned", wcu=5).as_dict() == {"mode": "provisioned", "wcu": 5}
    assert Capacity(mode="on-demand", max=9).as_dict() == {"mode": "on-demand", "max": 9}
    assert not Capacity().on and Capacity(mode="on-demand").on


def test_the_js_capacity_model_passes_its_unit_tests() -> None:
    result = subprocess.run([node_executable(), "--test", "tests/js/*.test.js"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout or "ℹ fail 0" in result.stdout
