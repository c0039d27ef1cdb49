"""Numbers as a user types them: ASCII digits only, finite.

Python's ``int()`` and ``float()`` also read other scripts' digits (full-width, Arabic-Indic), underscores
('1_000'), 'nan' and 'inf', and ``str.isdigit()`` passes '²', which ``int()`` then refuses with a traceback. Every
number read from a flag, a sweep, a capacity or a fault setting goes through ``whole`` or ``number``; each raises
``ValueError`` for anything else.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import TypeVar

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

