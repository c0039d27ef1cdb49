"""Logging that never shows a secret: a redacting filter for every handler, botocore's DEBUG output included.

``redact(text)`` removes every credential the lab has loaded (``remember``), session tokens, passwords and every
64-hex run (signatures and their hashes). ``configure(level)`` logs to stderr through the filter; ``install()`` adds
it to handlers configured elsewhere (e.g. Streamlit's).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from urllib.parse import quote

MASK = "***"
_known: set[str] = set()
_lock = threading.Lock()
_VALUE = r"([^'\"\s,;&}]+)"
_PATTERNS = [
    re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)" + _VALUE),
    re.compile(r"(?i)((?:aws_)?secret_?(?:access_?)?key['\"]?\s*[:=]\s*b?['\"]?)" + _VALUE),
    re.compile(r"(?i)((?:aws_)?session_?token['\"]?\s*[:=]\s*b?['\"]?)" + _VALUE),
    re.compile(r"(?i)(\b(?:password|passwd|pwd)['\"]?\s*[:=]\s*b?['\"]?)" + _VALUE),
    re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)([^\s@'\"]+)(?=@)"),  # scheme://user:PASSWORD@host
    re.compile(r"(?i)(^|[^0-9a-f])([0-9a-f]{64})(?![0-9a-f])"),  # signatures and the hashes they are built from
]


def remember(*secrets: str | None) -> None:
    """Register secret values (secret keys, session tokens) to be masked wherever they appear."""
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= 4:
                _known.update({secret, quote(secret, safe=""), quote(secret, safe="/")})


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with ``redact`` before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of ``logger`` (default: the root logger), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def configure(level: str) -> None:
    """Log to stderr at ``level`` (debug shows botocore's wire log, redacted)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
