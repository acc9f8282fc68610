"""HMAC request signing for producers that have a signing secret.

The producer sends `X-Prasan-Timestamp: <Unix seconds>`, `X-Prasan-Nonce: <16 to 128 printable ASCII
characters, new for every request, no '.'>` and
`X-Prasan-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<nonce>." + raw body, keyed with the secret>`.
The hub refuses a timestamp more than the window (five minutes) away from its clock, and a nonce the
same client has used before, so a captured request can neither be altered nor sent again, while two
different requests with the same body in the same second are both accepted (their nonces differ).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TIMESTAMP_HEADER = "X-Prasan-Timestamp"
NONCE_HEADER = "X-Prasan-Nonce"
SIGNATURE_HEADER = "X-Prasan-Signature"
SCHEME = "sha256="
NONCE_MIN, NONCE_MAX = 16, 128


class SignatureError(Exception):
    """The request's signature is missing, malformed, out of its time window, wrong or reused."""


def body_mac(secret: str, timestamp: int, nonce: str) -> hmac.HMAC:
    """The MAC before the body: a streamed body (a file upload) is fed to it chunk by chunk."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.{nonce}.".encode(), hashlib.sha256)


def signature(secret: str, body: bytes, timestamp: int, nonce: str) -> str:
    mac = body_mac(secret, timestamp, nonce)
    mac.update(body)
    return SCHEME + mac.hexdigest()


def new_nonce() -> str:
    # 32 URL-safe characters (192 random bits): never '.', so the signed string stays unambiguous.
    return secrets.token_urlsafe(24)


def sign_headers(secret: str, body: bytes, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The three headers a producer adds to a request (for clients and tests); a fresh nonce unless given."""
    at = int(time.time()) if timestamp is None else timestamp
    once = new_nonce() if nonce is None else nonce
    return {TIMESTAMP_HEADER: str(at), NONCE_HEADER: once, SIGNATURE_HEADER: signature(secret, body, at, once)}


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _check_nonce(nonce: str) -> None:
    if not NONCE_MIN <= len(nonce) <= NONCE_MAX or not _printable_ascii(nonce):
        raise SignatureError(f"{NONCE_HEADER} must be {NONCE_MIN} to {NONCE_MAX} printable ASCII characters")
    # The signed string is "<timestamp>.<nonce>.<body>": a '.' in the nonce would let a captured
    # request be re-cut (nonce "a", body "b.c" signs the same as nonce "a.b", body "c"), a new nonce
    # with a shortened body under a valid signature.
    if "." in nonce:
        raise SignatureError(f"{NONCE_HEADER} must not contain '.'")


def verify(secret: str, body: bytes, timestamp_header: str | None, nonce_header: str | None,
           signature_header: str | None, window_s: int, now: float | None = None) -> tuple[int, str]:
    """Check the signature and the time window; return the timestamp and the nonce. Reuse of the nonce
    is checked by the caller, against the store, so that it holds across hub processes."""
    timestamp, nonce = check_headers(timestamp_header, nonce_header, signature_header, window_s, now)
    mac = body_mac(secret, timestamp, nonce)
    mac.update(body)
    check_mac(mac, signature_header)
    return timestamp, nonce


def check_headers(timestamp_header: str | None, nonce_header: str | None, signature_header: str | None,
                  window_s: int, now: float | None = None) -> tuple[int, str]:
    """The signing headers are all there, well formed and within the time window: what can be checked
    before the body is read. Returns the timestamp and the nonce."""
    if not timestamp_header or not nonce_header or not signature_header:
        raise SignatureError(
            f"this client must sign its requests ({TIMESTAMP_HEADER}, {NONCE_HEADER}, {SIGNATURE_HEADER})"
        )
    if not _printable_ascii(timestamp_header) or not _printable_ascii(signature_header):
        raise SignatureError(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} must be printable ASCII")
    _check_nonce(nonce_header)
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > window_s:
        raise SignatureError(f"the request timestamp is more than {window_s} seconds from the hub's clock")
    return timestamp, nonce_header


def check_mac(mac: hmac.HMAC, signature_header: str | None) -> None:
    """The body fed to `mac` is the one the producer signed."""
    expected = SCHEME + mac.hexdigest()
    try:
        matches = hmac.compare_digest(expected.encode("ascii"), (signature_header or "").strip().encode("ascii"))
    except UnicodeError:  # a header with bytes that are not ASCII (aiohttp keeps them as surrogates)
        matches = False
    if not matches:
        raise SignatureError("the signature does not match the body, timestamp and nonce")


def used_nonce_key(client_id: str, nonce: str) -> str:
    """What the store keeps for a used nonce: bound to its client (another client may use the same
    nonce) and of fixed length (64 hex characters), so it fits the used-values column whatever the nonce."""
    return hashlib.sha256(f"{client_id}\0{nonce}".encode()).hexdigest()
