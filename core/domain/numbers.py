"""Numbers as a user types them: ASCII digits only, finite.

Every number read from a flag, sweep, capacity or fault setting goes through ``whole`` or ``number`` (``ValueError``
otherwise: ``int()`` alone accepts full-width digits, ``1_000``, ``nan``). Item counts (``10,000``, ``10k``, ``2.5M``,
``1e9``) go through ``parse_count``, which returns the exact integer or raises a one-line ``ConfigError``.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from core.domain.errors import ConfigError

T = TypeVar("T")
_WHOLE = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def whole(text: str) -> int:
    """``text`` (spaces around allowed) as an int, if it is written with the digits 0-9 only."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def number(text: str) -> float:
    """``text`` (spaces around allowed) as a finite float, if it is written with the digits 0-9 (a point and an
    exponent allowed); never 'nan' or 'inf'."""
    if not isinstance(text, str) or not _NUMBER.fullmatch(text.strip()):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError(f"not a finite number: {text!r}")
    return value


def seconds(text: str) -> float:
    """A duration in seconds: a ``number`` above 0."""
    value = number(text)
    if value <= 0:
        raise ValueError(f"not above 0: {text!r}")
    return value


def flag_type(parse: Callable[[str], T], name: str, rule: str = "digits 0-9 only") -> Callable[[str], T]:
    """``parse`` as an argparse ``type``: its refusal reads "invalid int value: 'x' (digits 0-9 only)"."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {name} value: {text!r} ({rule})") from None

    return convert


INT = flag_type(whole, "int")
FLOAT = flag_type(number, "float")



SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_COUNT = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?)([kmbgt]?)")


def parse_count(text: str, label: str, low: int, high: int) -> int:
    """``text`` as a whole count from ``low`` to ``high`` (see the module's contract)."""
    cleaned = str(text).strip().replace(",", "").replace("_", "").replace(" ", "").lower()
    match = _COUNT.fullmatch(cleaned)
    value: Decimal | None = None
    if match:
        try:
            value = Decimal(match.group(1)) * SUFFIXES[match.group(2)]
        except ArithmeticError:  # decimal's InvalidOperation, Overflow
            value = None
    if value is None or not low <= value <= high or value != value.to_integral_value():
        raise ConfigError(f"{label} must be a whole number from {low:,} to {high:,}, got {str(text).strip()!r}")
    return int(value)
