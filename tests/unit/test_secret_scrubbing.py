"""Secrets masked in messages and log lines: header forms, JSON and dict reprs, nested log values."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from core.errors import scrub_secrets
from core.logging import configure_logging


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: ***"),
        ("Authorization: Bearer abc.def", "Authorization: ***"),
        ("sent Bearer abc.def", "sent Bearer ***"),
        ('{"api_key": "abc", "n": 1}', '{"api_key": "***", "n": 1}'),
        ("{'token': 'x y', 'n': 1}", "{'token': '***', 'n': 1}"),
        ('{"Authorization": "Basic dXNlcjpwYXNz"}', '{"Authorization": "***"}'),
        ("X-API-Key: k-123", "X-API-Key: ***"),
        ("GET /x?api_key=abc&page=2", "GET /x?api_key=***&page=2"),
        ("password=hunter2, user=a", "password=***, user=a"),
        ("key prs_abcdefghijk", "key ***"),
        ("tokens: 5 used", "tokens: 5 used"),
        # A real credential after Authorization is masked, also beside or glued to a placeholder.
        ("send 'Authorization: Bearer prsadm_abcdefghijk'", "send 'Authorization: ***'"),
        ("Authorization: Bearer <key>abc123", "Authorization: ***"),
        ("Authorization: <k3y>", "Authorization: ***"),
        ("Authorization: Bearer abc.def <key>", "Authorization: *** <key>"),
        ('{"Authorization": "Bearer <token> s3cr3t"}', '{"Authorization": "***"}'),
        ("password=<secret>x", "password=***"),
    ],
)
def test_scrub_secrets_masks_each_form(text: str, expected: str) -> None:
    assert scrub_secrets(text) == expected


@pytest.mark.parametrize(
    "hint",
    [
        "send an API key as 'Authorization: Bearer <key>'",
        "send an admin token as 'Authorization: Bearer <token>'",
        "Every admin operation needs Authorization: Bearer <admin token>",
        "Authorization: <key>",
        '{"Authorization": "Bearer <API key>"}',
        "GET /x?api_key=<key>&page=2",
        "password=<password>, user=a",
        "sent Bearer <token>",
    ],
)
def test_placeholders_in_the_hubs_own_hints_are_not_secrets(hint: str) -> None:
    assert scrub_secrets(hint) == hint


def test_the_401_hint_for_a_missing_key_reads_as_written() -> None:
    from admin_api.problems import problem

    answer = problem(401, "Unauthorized", "send an API key as 'Authorization: Bearer <key>'")
    assert json.loads(answer.body)["detail"] == "send an API key as 'Authorization: Bearer <key>'"


def test_log_values_under_secret_keys_are_masked_at_any_depth() -> None:
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer, cache=False)
    try:
        structlog.get_logger("test").info(
            "request",
            request={"headers": {"X-API-Key": "k1", "Accept": "json"}, "auth": [{"password": "p1"}], "n": 2},
            settings=[{"api_key": "k2", "token": None}],
            note="Authorization: Basic dXNlcjpwYXNz",
            token="t1",
        )
    finally:
        structlog.reset_defaults()
    line = json.loads(buffer.getvalue())
    assert line["request"] == {"headers": {"X-API-Key": "***", "Accept": "json"}, "auth": [{"password": "***"}], "n": 2}
    assert line["settings"] == [{"api_key": "***", "token": None}]
    assert line["note"] == "Authorization: ***" and line["token"] == "***"
    for secret in ("k1", "p1", "k2", "t1", "dXNlcjpwYXNz"):
        assert secret not in buffer.getvalue()


def test_an_object_logged_as_it_is_is_scrubbed_in_its_text_form() -> None:
    import io
    import json

    import structlog

    from core.logging import configure_logging

    class Answer:  # anything whose repr holds a credential: an HTTP answer, a settings object
        def __repr__(self) -> str:
            return "Answer(headers={'X-Api-Key': 'prs_live_abcdefghijkl'}, token=s3cr3t-token)"

    out = io.StringIO()
    configure_logging("info", "json", stream=out, cache=False)
    try:
        structlog.get_logger("t").info("answered", answer=Answer(), count=3)
    finally:
        structlog.reset_defaults()  # as the other log tests do: no later test writes into this buffer
    line = json.loads(out.getvalue())
    assert "abcdefghijkl" not in line["answer"] and "s3cr3t" not in line["answer"]
    assert line["count"] == 3
