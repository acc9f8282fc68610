"""The kit fails plugins that break the contract: one broken plugin per way of breaking it, each a correct
test agency (tests/kit/agencies.py) with one thing wrong, run through the one check it must fail, and the
failure must say why. Their correct originals pass the whole kit (test_kit_passes_correct_plugins.py)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
import structlog
from pydantic import ConfigDict, Field, computed_field, model_validator

from prasan import HttpAnswer, HttpSettings, MappedRecord, NativeRecord, ReadBatch, Rejected, Retryable, Stream
from prasan import WriteItem, WriteResult
from prasan.testing import PluginConformance
from tests.kit import agencies
from tests.kit.kits import BatchProjectsKit, ProjectReaderKit, ProjectsKit

structlog_log = structlog.get_logger("tests.kit.broken")
stdlib_log = logging.getLogger("tests.kit.broken")


def kit_for(system: type, base: type[PluginConformance] = ProjectsKit, **attributes: Any) -> PluginConformance:
    """An instance of the kit `base`, checking `system` instead."""
    return type(f"{system.__name__}Kit", (base,), {"system": system, **attributes})()


def failure(kit: PluginConformance, check: str, *args: Any) -> str:
    """Run one check, which must fail; its message."""
    with pytest.raises(pytest.fail.Exception) as caught:
        getattr(kit, check)(*args)
    return str(caught.value)


# --- 1. describes itself ---------------------------------------------------------------------------
class WritesUnknownType(agencies.Projects):
    name = "kit_unknown_type"
    writes = ("plan_projects",)  # a typo: no such canonical entity type


class StreamOfUnknownType(agencies.ProjectReader):
    name = "kit_unknown_stream"
    streams = (Stream(entity_type="budget_lines"),)


class NoTitle(agencies.Projects):
    name = "kit_no_title"
    title = ""


def test_a_write_of_an_unknown_entity_type_fails_describes_itself() -> None:
    assert "not canonical entity types" in failure(kit_for(WritesUnknownType), "test_describes_itself")


def test_a_stream_of_an_unknown_entity_type_fails_describes_itself() -> None:
    message = failure(kit_for(StreamOfUnknownType, ProjectReaderKit), "test_describes_itself")
    assert "does not read a canonical entity type" in message


def test_a_system_without_a_title_fails_describes_itself() -> None:
    assert "declare title" in failure(kit_for(NoTitle), "test_describes_itself")


# --- 2. settings validated, secrets hidden ---------------------------------------------------------
class UndescribedSettings(agencies.KitSettings):
    region: str = "north"


class UndescribedSetting(agencies.Projects):
    name = "kit_undescribed"
    Settings = UndescribedSettings


class PlainStrSettings(HttpSettings):
    api_key: str = Field(description="API key sent as X-Api-Key.")  # type: ignore[assignment]


class PlainStrSecret(agencies.Projects):
    name = "kit_plain_secret"
    Settings = PlainStrSettings  # type: ignore[assignment]


class IgnoringSettings(agencies.KitSettings):
    model_config = ConfigDict(extra="ignore", frozen=True)


class IgnoresUnknownSettings(agencies.Projects):
    name = "kit_ignores_unknown"
    Settings = IgnoringSettings


class HeaderShowingSettings(agencies.KitSettings):
    @computed_field  # type: ignore[prop-decorator]
    @property
    def authorization(self) -> str:
        return f"Bearer {self.api_key.get_secret_value()}"


class SettingsShowTheSecret(agencies.Projects):
    name = "kit_shows_secret"
    Settings = HeaderShowingSettings


class UnnamedProblemSettings(agencies.KitSettings):
    @model_validator(mode="before")
    @classmethod
    def complete(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "api_key" not in raw:
            raise ValueError("the settings are incomplete")  # says nothing of which one
        return raw


class MissingSettingUnnamed(agencies.Projects):
    name = "kit_unnamed_problem"
    Settings = UnnamedProblemSettings


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        pytest.param(
            MissingSettingUnnamed, ["a missing 'api_key' must be reported naming it", "the settings are incomplete"],
            id="a missing setting reported without its name",
        ),
        pytest.param(UndescribedSetting, ["setting 'region' needs a description"], id="a setting without a description"),
        pytest.param(PlainStrSecret, ["'api_key' looks secret: declare it SecretStr"], id="a secret setting as plain str"),
        pytest.param(IgnoresUnknownSettings, ["refuse unknown keys"], id="settings that ignore unknown keys"),
        pytest.param(
            SettingsShowTheSecret, ["repr(settings) shows a secret setting's value"], id="settings whose repr shows the secret"
        ),
    ],
)
def test_broken_settings_fail_the_settings_check(broken: type, said: list[str]) -> None:
    message = failure(kit_for(broken), "test_settings_are_validated_and_secrets_hidden")
    assert [part for part in said if part not in message] == []


# --- 3. records map into valid canonical entities --------------------------------------------------
class MapsInWithoutTitle(agencies.Projects):
    name = "kit_invalid_entity"

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return [MappedRecord("plan_project", str(record.data["id"]), {"org_code": record.data["org"]})]


class MapsInWithoutExternalId(agencies.Projects):
    name = "kit_no_external_id"

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        [mapped] = super().map_in(record)
        return [MappedRecord(mapped.entity_type, "", mapped.payload)]


class ReaderMapsInWithoutTitle(agencies.ProjectReader):
    name = "kit_reader_invalid"

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        return MapsInWithoutTitle.map_in(self, record)  # type: ignore[arg-type]


def test_map_in_producing_an_invalid_entity_fails_the_mapping_check() -> None:
    message = failure(kit_for(MapsInWithoutTitle), "test_records_map_to_valid_canonical_entities")
    assert "samples[0]" in message and "map_in produced an invalid plan_project" in message and "title" in message


def test_map_in_without_an_external_id_fails_the_mapping_check() -> None:
    message = failure(kit_for(MapsInWithoutExternalId), "test_records_map_to_valid_canonical_entities")
    assert "has no external_id" in message


def test_read_records_mapping_into_invalid_entities_fail_the_mapping_check() -> None:
    message = failure(kit_for(ReaderMapsInWithoutTitle, ProjectReaderKit), "test_records_map_to_valid_canonical_entities")
    assert "read from the simulator" in message and "invalid plan_project" in message


# --- 4. map-out, and the round trip ----------------------------------------------------------------
class MapsOutNothing(agencies.Projects):
    name = "kit_empty_map_out"

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        return {}


class MapsOutATimestamp(agencies.Projects):
    name = "kit_timestamp"

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        return {**super().map_out(entity_type, entity), "sent_at": time.time_ns(), "nonce": uuid.uuid4().hex}


class LosesTheTitleOnTheWayBack(agencies.Projects):
    name = "kit_lossy"

    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        [mapped] = super().map_in(record)
        return [MappedRecord(mapped.entity_type, mapped.external_id, {**mapped.payload, "title": "untitled"})]


def test_an_empty_map_out_fails_the_map_out_check() -> None:
    assert "non-empty native record" in failure(kit_for(MapsOutNothing), "test_entities_map_out")


def test_a_map_out_that_differs_each_time_fails_the_map_out_check() -> None:
    assert "two different records for one entity" in failure(kit_for(MapsOutATimestamp), "test_entities_map_out")


def test_a_field_lost_between_map_out_and_map_in_fails_the_round_trip() -> None:
    message = failure(kit_for(LosesTheTitleOnTheWayBack), "test_map_out_round_trips_through_map_in")
    assert "title:" in message and "came back as 'untitled'" in message


# --- 5. a repeated delivery key has no second effect -----------------------------------------------
class DropsTheIdempotencyKey(agencies.Projects):
    name = "kit_drops_key"

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        return super().headers(None)


class FreshKeyPerAttempt(agencies.Projects):
    name = "kit_fresh_key"

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        return super().headers(uuid.uuid4().hex)


class OneKeyPerBatch(agencies.BatchProjects):
    name = "kit_one_key_per_batch"

    def batch_key(self, item: WriteItem, batch: list[WriteItem]) -> str:
        return batch[0].delivery_key


def test_dropping_the_idempotency_key_fails_the_repeat_check() -> None:
    kit = kit_for(DropsTheIdempotencyKey)
    message = failure(kit, "test_repeated_delivery_key_has_no_second_effect")
    assert "had 0 effects at the simulator" in message
    # The two writes were two effects, under no key at all:
    assert message.count("'idempotency_key': None, 'status': 201, 'replayed': False") == 2


def test_a_fresh_key_per_attempt_fails_the_repeat_check() -> None:
    message = failure(kit_for(FreshKeyPerAttempt), "test_repeated_delivery_key_has_no_second_effect")
    assert "had 0 effects at the simulator" in message


def test_one_key_for_a_whole_batch_fails_the_repeat_check() -> None:
    message = failure(kit_for(OneKeyPerBatch, BatchProjectsKit), "test_repeated_delivery_key_has_no_second_effect")
    assert "-1:1' had 0 effects" in message  # the second item's key


# --- 6. status classification ----------------------------------------------------------------------
class Treats401AsRetryable(agencies.Projects):
    name = "kit_401_retryable"

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        if answer.status in (401, 403):
            return Retryable(f"answered {answer.status}")
        return super().result_for(answer)


class Treats400AsRetryable(agencies.Projects):
    name = "kit_400_retryable"

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        if 400 <= answer.status < 500 and answer.status not in (401, 403):
            return Retryable(f"answered {answer.status}")
        return super().result_for(answer)


class IgnoresRetryAfter(agencies.Projects):
    name = "kit_no_retry_after"

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        result = super().result_for(answer)
        return Retryable(result.reason) if isinstance(result, Retryable) else result


class IgnoresItsTimeout(agencies.Projects):
    name = "kit_no_timeout"

    async def start(self, http: Any) -> None:
        await super().start(http)
        self.settings = self.settings.model_copy(update={"timeout_s": 60.0})


class LetsAiohttpErrorsEscape(agencies.Projects):
    name = "kit_raw_errors"

    async def request(self, method: str, path: str, **kwargs: Any) -> HttpAnswer:
        async with self.http.request(
            method, self.url(path), json=kwargs.get("json_body"), headers=self.headers(kwargs.get("idempotency_key"))
        ) as response:
            return HttpAnswer(response.status, dict(response.headers), await response.text())


class ReaderSwallowsErrors(agencies.ProjectReader):
    name = "kit_reader_swallows"

    async def read(self, stream: Stream, cursor: str | None) -> ReadBatch:
        answer = await self.request("GET", agencies.PROJECTS)
        if answer.status != 200:
            return ReadBatch(records=[], next_cursor=cursor)  # "nothing new": the pull looks healthy
        return await super().read(stream, cursor)


@pytest.mark.parametrize("scenario", ["401", "403"])
def test_treating_401_and_403_as_retryable_fails_the_status_check(scenario: str) -> None:
    message = failure(kit_for(Treats401AsRetryable), "test_status_classification", scenario)
    assert f"on HTTP {scenario}, write must raise ConfigError" in message and "Retryable" in message


@pytest.mark.parametrize("scenario", ["400", "422"])
def test_treating_400_as_retryable_fails_the_status_check(scenario: str) -> None:
    message = failure(kit_for(Treats400AsRetryable), "test_status_classification", scenario)
    assert f"on HTTP {scenario}, write must answer Rejected for every item, or raise PermanentError" in message


def test_ignoring_retry_after_fails_the_429_check() -> None:
    kit = kit_for(IgnoresRetryAfter)
    message = failure(kit, "test_status_classification", "429")
    assert "without retry_after=7 from the Retry-After header" in message
    kit.test_status_classification("503")  # a 503 without Retry-After is still classified right


def test_ignoring_timeout_s_fails_the_timeout_check() -> None:
    started = time.monotonic()
    message = failure(kit_for(IgnoresItsTimeout), "test_status_classification", "timeout")
    assert "did not give up within 2.0s although timeout_s=0.5" in message
    assert time.monotonic() - started < 4


def test_letting_aiohttp_errors_escape_fails_the_refused_check() -> None:
    message = failure(kit_for(LetsAiohttpErrorsEscape), "test_status_classification", "refused")
    assert "on a connection refused, write must answer Retryable" in message and "ClientConnectorError" in message


def test_a_reader_swallowing_401_fails_the_status_check_through_read() -> None:
    message = failure(kit_for(ReaderSwallowsErrors, ProjectReaderKit), "test_status_classification", "401")
    assert "on HTTP 401, read must raise ConfigError" in message and "answered []" in message


# --- 7. no secret in logs or messages --------------------------------------------------------------
class LogsItsApiKey(agencies.Projects):
    name = "kit_logs_key"

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        structlog_log.info("writing", credential=self.settings.api_key.get_secret_value())
        return await super().write(batch)


class LogsItsApiKeyThroughLogging(agencies.ProjectReader):
    name = "kit_logs_key_stdlib"

    async def read(self, stream: Stream, cursor: str | None) -> ReadBatch:
        stdlib_log.debug("GET %s with %s", agencies.PROJECTS, self.headers())
        return await super().read(stream, cursor)


class EchoesItsApiKeyInReasons(agencies.Projects):
    name = "kit_echoes_key"

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        result = super().result_for(answer)
        if isinstance(result, Rejected):
            return Rejected(f"{result.reason} (sent as {self.settings.api_key.get_secret_value()})")
        return result


def test_logging_the_api_key_fails_the_secret_check() -> None:
    message = failure(kit_for(LogsItsApiKey), "test_no_secret_in_logs_or_messages")
    assert "is in a log line" in message and "'event': 'writing'" in message


def test_logging_the_api_key_through_stdlib_logging_at_debug_fails_the_secret_check() -> None:
    message = failure(kit_for(LogsItsApiKeyThroughLogging, ProjectReaderKit), "test_no_secret_in_logs_or_messages")
    assert "is in a log line: tests.kit.broken DEBUG GET /api/projects" in message


def test_a_secret_in_a_result_reason_fails_the_secret_check() -> None:
    kit = kit_for(EchoesItsApiKeyInReasons)
    kit.test_status_classification("400")  # classified right: Rejected ...
    message = failure(kit, "test_no_secret_in_logs_or_messages")  # ... but with the key in the reason
    assert "scenario's exception or results" in message and "Rejected(reason=" in message


# --- the correct plugins pass the checks their broken copies fail ----------------------------------
@pytest.mark.parametrize(
    "check",
    [
        "test_describes_itself",
        "test_settings_are_validated_and_secrets_hidden",
        "test_records_map_to_valid_canonical_entities",
        "test_entities_map_out",
        "test_map_out_round_trips_through_map_in",
        "test_repeated_delivery_key_has_no_second_effect",
        "test_no_secret_in_logs_or_messages",
    ],
)
def test_the_correct_original_passes(check: str) -> None:
    getattr(ProjectsKit(), check)()
