"""The lab's errors: a small tree whose messages are one line that says what was wrong and how to fix it.

LabError
├── ConfigError      bad input from the user (CLI flags, page widgets, environment); nothing has been written
├── EmulatorError    the embedded DynamoDB could not be started, reached or stopped
├── TargetError      a target is unreachable, refuses our credentials or holds an unusable table
├── WriteFailed      a write could not be completed (raised only where a caller asks for all-or-nothing)
└── Cancelled        the user cancelled while the lab waited (for a table, a lease): nothing more was started
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LabError(Exception):
    """Base of every error the lab reports to a person; ``str(error)`` is a single readable line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigError(LabError, ValueError):
    """Bad input: says which value was wrong and what would be accepted."""


class EmulatorError(LabError):
    """The embedded emulator could not be started or reached; says what to run."""


class TargetError(LabError):
    """A target is unreachable, rejects the request, or holds a table the lab cannot use."""


class WriteFailed(LabError):
    """A write failed for good (non-retryable error or retry budget spent)."""


class Cancelled(LabError):
    """The user cancelled during a wait; the line says what was being waited for. Not a failure of the target."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'sequential'?)`` for the closest of ``choices`` to a mistyped ``word``; empty when none is
    close (difflib's ratio of at least 0.6)."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
