"""The few text helpers the forecast's own one-line messages need (an estimate's warning, the planner's notes,
bases and recommendation): pure, no I/O. Everything else reads them through ``core.app.formatting``."""

from __future__ import annotations


def short(seconds: float) -> str:
    """'0.4 s', '12 s', '4 min', '3.5 h', '12 days'."""
    if seconds < 120:
        return f"{seconds:,.0f} s" if seconds >= 1 else f"{seconds:,.1f} s"
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:,.0f} days" if seconds >= 10 * 86_400 else f"{seconds / 86_400:,.1f} days"
    return f"{seconds / 60:,.0f} min" if seconds < 3 * 3600 else f"{seconds / 3600:,.1f} h"


def count_words(count: int) -> str:
    """10 thousand, 10 million, 1 billion, 1.5 million; 1,234 otherwise."""
    for size, word in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand")):
        if count >= size and (count * 10) % size == 0:
            return f"{count / size:g} {word}"
    return f"{count:,}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 book', '2 books', '1,000 books'; ``many`` for an irregular plural ('approaches')."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def gigabytes(gib: float) -> str:
    """'12.34 GB', '0.0046 GB', '120 KB' (never '0.00 GB')."""
    if gib >= 0.01:
        return f"{gib:,.2f} GB"
    if gib >= 0.001 / 1024:
        return f"{gib * 1024:,.2f} MB" if gib * 1024 >= 0.01 else f"{gib * 1024 * 1024:,.0f} KB"
    return f"{gib * 1024**3:,.0f} bytes"


def money(usd: float) -> str:
    """'$12.34', '$0.0046' (four places under a cent)."""
    return f"${usd:,.2f}" if usd >= 0.01 else f"${usd:.4f}"
