"""AWS Signature Version 4, written by hand (the point of the 2022 study).

Contract: pure functions, no I/O, no clock (``now`` is passed in). Each step of the spec is a public function
named after it; only ``sign`` assembles the headers of a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and an optional session token; repr and str never show the secret or token."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        masked = self.access_key[:4] + "…" if len(self.access_key) > 4 else "…"
        return f"Credentials(access_key={masked!r}, secret_key='***', token={'***' if self.token else None!r})"

    __str__ = __repr__
