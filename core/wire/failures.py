"""Failure classification that needs no client library: a failed TLS handshake told apart from other failures.

Pure: walks an exception's causes and reads only the standard library's ``ssl`` errors.
"""

from __future__ import annotations

import ssl


def tls_failure(error: BaseException) -> tuple[str, str] | None:
    """``(code, reason)`` when ``error`` is (or was caused by) a failed TLS handshake, else None: CertificateError
    with the verifier's reason when the certificate was not trusted, TLSError with OpenSSL's otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    found: ssl.SSLError | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):  # aiohttp's error is one too, without the fields
            cause = getattr(current, "certificate_error", current)
            return "CertificateError", str(getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
                                           or "certificate verify failed")
        if isinstance(current, ssl.SSLError) and found is None:
            found = current
        details = getattr(current, "kwargs", None)  # botocore keeps the cause of its errors in kwargs["error"]
        nested = details.get("error") if isinstance(details, dict) else None
        current = nested if isinstance(nested, BaseException) else (current.__cause__ or current.__context__)
    if found is not None:
        return "TLSError", str(getattr(found, "reason", None) or found)
    if "CERTIFICATE_VERIFY_FAILED" in str(error):  # botocore keeps only the text of urllib3's error
        return "CertificateError", str(error).rsplit("certificate verify failed: ", 1)[-1].split(" (_ssl")[0]
    return None
