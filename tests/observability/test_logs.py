"""JSON log lines carry the message, delivery key, system and route they concern, and no secret."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from core.logging import configure_logging
from plugins.elaas.simulator import DEFAULT_API_KEY as ELAAS_KEY
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import p02_rows, to_csv

pytestmark = pytest.mark.e2e


@pytest.fixture
def json_logs() -> io.StringIO:
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer, cache=False)
    yield buffer
    structlog.reset_defaults()


async def test_json_lines_are_bound_to_their_message_delivery_and_route(
    running_hub: RunningHub, json_logs: io.StringIO
) -> None:
    hub = running_hub
    status, answer = await hub.post(to_csv(p02_rows(2)), "text/csv; charset=utf-8")
    assert status == 202
    await hub.wait_until(hub.settled, "delivered")
    # A careless line with credentials in it, as a plugin might write: masked on the way out.
    structlog.get_logger("test").warning(
        "careless", detail=f"sent Authorization: Bearer {hub.eplan_key}", api_key=ELAAS_KEY, url=f"x?token={ELAAS_KEY}"
    )

    text = json_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert lines and all("timestamp" in line and "level" in line for line in lines)

    [ingested] = [line for line in lines if line["event"] == "ingested"]
    assert ingested["message_id"] == answer["message_id"] and ingested["system"] == "eplan"
    assert ingested["http_route"] == "/api/v1/inbound/{system}" and ingested["http_method"] == "POST"

    delivered = [line for line in lines if line["event"] == "delivered"]
    assert len(delivered) == 2
    for line in delivered:
        assert line["delivery_key"].startswith("elaas:") and line["delivery_key"].endswith(":1")
        assert line["system"] == "elaas" and line["route"] == "eplan-projects-to-elaas"
    assert {line["delivery_key"].split(":")[1] for line in delivered} == {e["id"] for e in answer["entities"]}

    for secret in (hub.eplan_key, ELAAS_KEY):
        assert secret not in text
    [careless] = [line for line in lines if line["event"] == "careless"]
    assert careless["api_key"] == "***" and careless["detail"].startswith("sent ") and "***" in careless["detail"]


def test_console_rendering_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    configure_logging("info", "auto", stream=out, cache=False)
    try:
        structlog.get_logger("test").info("hello", system="eplan")
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert "hello" in text and "system" in text and "eplan" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
