"""The hub's error tree, classified by what the caller should do about it.

    PrasanError
    ├── ConfigError       the hub's configuration or credentials are wrong (HTTP 401/403 from a system, a
    │                     setting the system refuses): the destination is held for an operator; its
    │                     deliveries wait unsent, use no attempt and are never dead-lettered
    ├── TransientError    retry with backoff (HTTP 408/425/429, 5xx, timeouts, connection refused); a
    │                     delivery whose attempts run out is dead-lettered
    ├── PermanentError    this record is refused for good: dead letter at once (other HTTP 4xx)
    ├── RecordError       one record is bad: reject it, keep going with the rest
    └── MappingError      a record cannot be mapped (raised by core.mapping): rejected on the way in,
                          dead-lettered on the way out

The whole policy, with the write results that stand for the same actions (Delivered, Retryable,
Rejected), is in core/contract.py and docs/plugins.md.

Every error carries the system, entity type and record key it concerns, so that logs and dead letters
lead back to the record. Messages are scrubbed of secrets before they leave the process.
"""

from __future__ import annotations

import re

_SECRET_KEY = r"(?:x-api-key|api[_-]?key|access[_-]?token|token|password|passwd|secret|authorization)"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# key = value, key: value, "key": "value", 'key': 'value' (a Python dict's repr), with the value
# quoted or bare; an Authorization value's scheme and credential are masked as one unit.
_SCHEME = r"(?:basic|bearer|digest|negotiate|token|apikey)\s+"
# A placeholder such as `<key>`, `<admin token>` or `Bearer <token>` is how the hub's own hints and
# docs show where a credential goes; it is not one, and masking it would turn "send
# 'Authorization: Bearer <key>'" into nonsense. Letters, spaces, `_` and `-` only, between angle
# brackets and ending at a delimiter, so a real credential with other characters around or after it
# (`<key>abc123`, `<k3y>`) is still masked.
_PLACEHOLDER_TEXT = r"(?:" + _SCHEME + r")?<[A-Za-z][A-Za-z _-]{0,40}>"
_PLACEHOLDER = re.compile(r"(?i)" + _PLACEHOLDER_TEXT)
_KEYED = re.compile(
    r"(?i)(" + _SECRET_KEY + r"[\"']?\s*[=:]\s*)"
    r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
    r"|" + _PLACEHOLDER_TEXT + r"(?=$|[\s&,;\"'}\]])"
    r"|(?:" + _SCHEME + r")?[^\s&,;\"'}\]]+)"
)
_PRASAN_KEY = re.compile(r"prs(?:adm|hmac)?_[A-Za-z0-9_-]{8,}")


def _masked_value(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') else ""
    if _PLACEHOLDER.fullmatch(value[1:-1] if quote else value):
        return match.group(0)
    return match.group(1) + quote + "***" + quote


def scrub_secrets(text: str) -> str:
    """Mask credentials that may have slipped into an error message or a log line."""
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    text = _KEYED.sub(_masked_value, text)
    return _PRASAN_KEY.sub("***", text)


class PrasanError(Exception):
    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        entity_type: str | None = None,
        record_key: str | None = None,
    ) -> None:
        super().__init__(scrub_secrets(message))
        self.system = system
        self.entity_type = entity_type
        self.record_key = record_key

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(PrasanError):
    """Wrong configuration or credentials: retrying cannot help."""


class TransientError(PrasanError):
    """Worth retrying later; `retry_after` (seconds) is honoured when the system said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: str | None) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class PermanentError(PrasanError):
    """The system refused this record for good."""


class RecordError(PrasanError):
    """One record is bad; the rest of its batch goes on."""


def classify_http_status(status: int) -> type[PrasanError] | None:
    """Which branch of the tree an HTTP status from an agency system belongs to (None: success).

    Only 2xx is a success. A redirect is not followed (it would re-send the credentials elsewhere, and
    turn a write into a read of another page) and says the configured URL is wrong: the hub's setting."""
    if 200 <= status < 300:
        return None
    if status in (401, 403) or status < 400:
        return ConfigError
    if status in (408, 425, 429) or status >= 500:
        return TransientError
    return PermanentError
