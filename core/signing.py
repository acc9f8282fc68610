"""HMAC request signing for producers that have a signing secret.

The producer sends `X-Prasan-Timestamp: <Unix seconds>` and
`X-Prasan-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body, keyed with the secret>`.
The hub refuses a timestamp more than the window (five minutes) away from its clock, and a signature
it has seen before, so a captured request can neither be altered nor sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Prasan-Timestamp"
SIGNATURE_HEADER = "X-Prasan-Signature"
SCHEME = "sha256="


class SignatureError(Exception):
    """The request's signature is missing, malformed, out of its time window, wrong or reused."""


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def sign_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers a producer adds to a request (for clients and tests)."""
    at = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(at), SIGNATURE_HEADER: signature(secret, body, at)}


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def verify(secret: str, body: bytes, timestamp_header: str | None, signature_header: str | None,
           window_s: int, now: float | None = None) -> int:
    """Check the signature and the time window; return the timestamp. Reuse is checked by the caller,
    against the store, so that it holds across hub processes."""
    if not timestamp_header or not signature_header:
        raise SignatureError(f"this client must sign its requests ({TIMESTAMP_HEADER}, {SIGNATURE_HEADER})")
    if not _printable_ascii(timestamp_header) or not _printable_ascii(signature_header):
        raise SignatureError(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} must be printable ASCII")
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > window_s:
        raise SignatureError(f"the request timestamp is more than {window_s} seconds from the hub's clock")
    expected = signature(secret, body, timestamp)
    try:
        matches = hmac.compare_digest(expected.encode("ascii"), signature_header.strip().encode("ascii"))
    except UnicodeError:  # a header with bytes that are not ASCII (aiohttp keeps them as surrogates)
        matches = False
    if not matches:
        raise SignatureError("the signature does not match the body and timestamp")
    return timestamp
