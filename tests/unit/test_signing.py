"""Request signing: the signature covers timestamp, nonce and body; the nonce is bounded and unambiguous."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from core.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign_headers,
    signature,
    used_nonce_key,
    verify,
)

SECRET = "prshmac_unit-test-secret"
BODY = b"a,b\n1,2\n"
NOW = 1_700_000_000


def _verify(headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> tuple[int, str]:
    return verify(SECRET, body, headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER),
                  headers.get(SIGNATURE_HEADER), 300, now=now)


def test_the_signature_is_hmac_sha256_of_timestamp_nonce_and_body() -> None:
    headers = sign_headers(SECRET, BODY, NOW, nonce="n" * 16)
    expected = hmac.new(SECRET.encode(), f"{NOW}.{'n' * 16}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: str(NOW), NONCE_HEADER: "n" * 16, SIGNATURE_HEADER: "sha256=" + expected}
    assert _verify(headers) == (NOW, "n" * 16)


def test_sign_headers_gives_each_request_its_own_valid_nonce() -> None:
    first, second = sign_headers(SECRET, BODY, NOW), sign_headers(SECRET, BODY, NOW)
    assert first[NONCE_HEADER] != second[NONCE_HEADER] and first[SIGNATURE_HEADER] != second[SIGNATURE_HEADER]
    for headers in (first, second):
        assert 16 <= len(headers[NONCE_HEADER]) <= 128 and "." not in headers[NONCE_HEADER]
        assert _verify(headers)[1] == headers[NONCE_HEADER]


@pytest.mark.parametrize("nonce", ["n" * 15, "n" * 129, "nonce-with-é-inside", "nonce\twith-a-tab", "a.b-long-enough-nonce"])
def test_a_nonce_out_of_bounds_or_with_a_dot_is_refused(nonce: str) -> None:
    with pytest.raises(SignatureError, match=NONCE_HEADER):
        _verify(sign_headers(SECRET, BODY, NOW, nonce=nonce))


def test_a_nonce_of_16_and_of_128_printable_characters_is_accepted() -> None:
    for nonce in ("!" * 16, "~ x" * 42 + "zz"):
        assert _verify(sign_headers(SECRET, BODY, NOW, nonce=nonce))[1] == nonce


def test_a_captured_request_cannot_be_recut_into_another_nonce_and_body() -> None:
    # Without the ban on '.', nonce "a...a" with body "b.c" would sign the same as nonce "a...a.b", body "c".
    captured = sign_headers(SECRET, b"b.c", NOW, nonce="a" * 16)
    recut = {**captured, NONCE_HEADER: "a" * 16 + ".b"}
    assert signature(SECRET, b"c", NOW, "a" * 16 + ".b") == captured[SIGNATURE_HEADER]
    with pytest.raises(SignatureError):
        _verify(recut, body=b"c")


def test_a_changed_nonce_body_or_timestamp_breaks_the_signature_and_the_window_holds() -> None:
    headers = sign_headers(SECRET, BODY, NOW)
    with pytest.raises(SignatureError, match="does not match"):
        _verify({**headers, NONCE_HEADER: "x" * 32})
    with pytest.raises(SignatureError, match="does not match"):
        _verify(headers, body=BODY + b"3,4\n")
    with pytest.raises(SignatureError, match="does not match"):
        _verify({**headers, TIMESTAMP_HEADER: str(NOW - 1)})
    with pytest.raises(SignatureError, match="300 seconds"):
        _verify(headers, now=NOW + 301)
    with pytest.raises(SignatureError, match="must sign"):
        _verify({k: v for k, v in headers.items() if k != NONCE_HEADER})


def test_the_used_nonce_key_is_per_client_and_fits_the_column() -> None:
    assert used_nonce_key("c1", "n" * 16) != used_nonce_key("c2", "n" * 16)
    assert used_nonce_key("c1", "n" * 16) == used_nonce_key("c1", "n" * 16)
    assert len(used_nonce_key("c" * 32, "~" * 128)) == 64  # used_signatures.signature is String(128)
