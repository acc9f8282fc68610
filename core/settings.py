"""Hub settings: environment variables with the prefix PRASAN_ over hub.yaml over defaults.

hub.yaml is the file named by PRASAN_CONFIG, else `hub.yaml` in the operator's configuration folder
(PRASAN_CONFIG_DIR), else there is none. Where shipped and operator files live: core/paths.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.paths import SHIPPED_CONFIG_DIR, default_var_dir


class DeliverySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(500, ge=1, le=5000, description="outbox rows claimed per worker round")
    workers: int = Field(2, ge=1, le=64, description="concurrent delivery workers in this process")
    poll_interval_s: float = Field(0.2, gt=0, description="idle wait between empty claims")
    gather_s: float = Field(
        0.02,
        ge=0,
        le=5,
        description="wait after a claim that found fewer rows than a full batch (the backlog is drained), so that "
        "records arriving one by one are delivered a few per round instead of one claim and one settling "
        "transaction each; a full claim goes on at once. Adds up to this much to a delivery's latency; 0: off",
    )
    lease_s: int = Field(60, ge=5, description="a claim not completed within this is taken over")
    backoff_base_s: float = Field(2.0, gt=0, description="first retry delay before jitter (doubles each retry)")
    backoff_max_s: float = Field(3600.0, gt=0, description="longest retry delay")
    retry_window_s: float = Field(
        86_400.0,
        ge=0,
        description="outage budget of one delivery: a delivery that keeps failing with retryable errors is "
        "dead-lettered only once its first failure is this old AND it has had its route's max_attempts "
        "(0: attempts alone decide, as before); see docs/decisions/0009-outage-budget.md",
    )
    default_max_attempts: int = Field(
        8, ge=1, description="attempts a delivery gets at least before it can be exhausted (with retry_window_s)"
    )
    down_after_failures: int = Field(
        3,
        ge=0,
        description="consecutive write calls to one destination failing as a whole with retryable errors "
        "(timeouts, refused connections, 5xx for every item) after which the destination is held as down: "
        "claimed rows go back unsent without using an attempt and one small probe batch is sent at the "
        "backoff interval until a write succeeds (0: never hold, every failure uses an attempt)",
    )
    down_probe_max_s: float = Field(
        60.0, gt=0, description="longest wait between two probes of a destination held as down"
    )
    write_timeout_s: float = Field(30.0, gt=0, description="timeout of one write call to a system")
    config_hold_s: float = Field(
        300.0,
        gt=0,
        description="how long a destination that refused the hub's configuration (401/403) is held before "
        "it is tried again; its deliveries wait unsent, using no attempt",
    )
    hold_unconfigured: bool = Field(
        False,
        description="start even when a route's destination has missing or invalid settings, holding its "
        "deliveries until it is configured (otherwise the hub refuses to start and names the setting)",
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_write(self) -> DeliverySettings:
        # A worker hands back rows whose lease would end during a write; with a lease no longer than
        # one write it could never send anything, and a write could outlive its lease.
        if self.lease_s <= self.write_timeout_s:
            raise ValueError(
                f"delivery.lease_s ({self.lease_s}) must be longer than delivery.write_timeout_s "
                f"({self.write_timeout_s})"
            )
        return self


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limit_per_s: float = Field(
        20.0, gt=0, description="requests per second each API client or admin token may make, on average"
    )
    rate_limit_burst: int = Field(40, ge=1, description="requests a client may make at once before it is slowed")
    address_rate_limit_per_s: float = Field(
        200.0,
        gt=0,
        description="requests per second one remote address may make to /api/v1/, checked before authentication",
    )
    address_rate_limit_burst: int = Field(
        400, ge=1, description="requests one remote address may make to /api/v1/ at once before it is slowed"
    )
    max_ingest_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="largest inbound payload (413 above)")
    max_admin_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest admin API request body (413 above)")
    body_stall_s: float = Field(
        60, gt=0, le=3600, description="longest a pushed payload or an admin API request body may send nothing "
        "before it is refused (408): a client trickling a body would otherwise hold its connection and memory for ever"
    )
    body_min_bytes_per_s: float = Field(
        500, gt=0, le=1e9, allow_inf_nan=False, description="least average rate of a pushed payload, an upload or an admin API request body "
        "after its first body_stall_s (408 below): a client sending a byte just before each stall limit would "
        "otherwise hold its connection and memory for days"
    )
    signature_window_s: int = Field(
        300, ge=1, description="how far a signed request's timestamp may be from the hub's clock, in seconds"
    )
    route_refresh_s: float = Field(
        5.0, gt=0, description="how often route changes made by another process (or the CLI) are picked up"
    )


class PayloadLimits(BaseModel):
    """What one inbound payload may make the hub read, whatever its format: the one place every format's
    limits come from (core/payloads.py). A payload over a limit is refused as a whole with 413 and a
    `rule` naming the limit; the limits are checked while the payload is read, never after building it."""

    model_config = ConfigDict(extra="forbid")

    max_records: int = Field(
        50_000,
        ge=1,
        description="records (non-empty data rows, JSON objects) one payload may hold (413 payload.too_many_rows); "
        "bounds the memory of one request and how long its one transaction holds the database; split larger sends",
    )
    max_rows_scanned: int = Field(
        100_000,
        ge=2,
        description="rows read from a CSV or worksheet, empty rows and the header included, before the payload is "
        "refused (413 payload.too_many_rows_scanned): a sheet formatted far below its data costs time even when "
        "its rows are empty",
    )
    max_columns: int = Field(
        200,
        ge=1,
        description="columns (cells of a row up to its last non-empty one; keys of a JSON record) "
        "(413 payload.too_many_columns)",
    )
    max_cell_chars: int = Field(
        32_767,
        ge=1,
        description="characters in one cell or JSON string (413 payload.cell_too_long); Excel's own limit per cell, "
        "so no spreadsheet export exceeds it: a longer cell means a broken file (an unclosed quote swallowing "
        "the rest of a CSV) or a hostile one. Canonical fields have their own, shorter limits (per-record rejections)",
    )
    max_expanded_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="bytes the hub will read after decompression: the XML parts of an XLSX together (its sheet and "
        "shared strings, as declared in the ZIP and as actually inflated) and the text of a CSV or JSON body "
        "(413 payload.expanded_too_large)",
    )
    max_xlsx_metadata_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="bytes of each other XML part of an XLSX (workbook, styles, theme, relationships); these are "
        "parsed into whole trees, so they get a tighter limit (413 payload.expanded_too_large)",
    )
    max_shared_strings: int = Field(
        1_000_000,
        ge=1,
        description="entries of an XLSX shared-strings table, which is held in memory whole "
        "(413 payload.too_many_shared_strings); 50,000 rows of 20 distinct texts each fit",
    )
    max_zip_entries: int = Field(
        10_000,
        ge=16,
        description="files inside an XLSX (a workbook has a few dozen; 413 payload.too_many_parts)",
    )
    max_json_depth: int = Field(
        32,
        ge=2,
        description="nesting of JSON arrays and objects (400 json.too_deep), checked before the JSON is parsed",
    )

    @model_validator(mode="after")
    def _header_fits(self) -> PayloadLimits:
        if self.max_rows_scanned <= self.max_records:
            raise ValueError(
                f"limits.max_rows_scanned ({self.max_rows_scanned}) must be larger than limits.max_records "
                f"({self.max_records}): the header row and empty rows are scanned too"
            )
        return self


class IngestSettings(BaseModel):
    """How many pushed payloads the hub parses and maps at once. Parsing runs in a small thread pool, off
    the event loop (docs/decisions/0010-ingest-off-the-loop.md); these caps keep a burst of large uploads
    from queueing without end: a payload over them waits at most `parse_wait_s`, then gets 503."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_parses: int = Field(
        2, ge=1, le=64, description="payloads parsed and mapped at once in this process (the size of the parse pool)"
    )
    max_concurrent_parses_per_client: int = Field(
        1, ge=1, le=64, description="payloads of one API client parsed and mapped at once"
    )
    max_waiting_parses: int = Field(
        16,
        ge=0,
        le=1024,
        description="payloads that may wait for a parse slot at once; one more is answered 503 at once "
        "(each waiting payload is held in memory, up to security.max_ingest_body_bytes)",
    )
    parse_wait_s: float = Field(
        10.0, gt=0, le=300, description="longest a payload waits for a parse slot before it is answered 503 with Retry-After"
    )
    store_chunk_records: int = Field(
        1_000,
        ge=1,
        description="records of a pushed payload stored per transaction: a larger payload is stored in chunks of "
        "this many, each its own transaction, so that neither its memory nor its hold on the database grows with "
        "its size (docs/decisions/0013-chunked-ingest.md)",
    )
    resume_after_s: float = Field(
        120.0,
        gt=0,
        description="a payload whose chunks stopped being stored this long ago (its process died) is completed by "
        "any hub process: its remaining chunks are stored from the kept payload, none twice",
    )

    @model_validator(mode="after")
    def _per_client_fits(self) -> IngestSettings:
        if self.max_concurrent_parses_per_client > self.max_concurrent_parses:
            raise ValueError(
                f"ingest.max_concurrent_parses_per_client ({self.max_concurrent_parses_per_client}) cannot be "
                f"larger than ingest.max_concurrent_parses ({self.max_concurrent_parses})"
            )
        return self


class ImportSettings(BaseModel):
    """Files uploaded whole to POST /api/v1/imports/{system} (docs/imports.md): written to disk as they
    arrive, then imported a chunk of rows at a time, so that the hub's memory does not grow with the file."""

    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(
        2 * 1024**3,
        ge=1,
        description="bytes one uploaded file may have (413 as soon as its declared or running size passes it); "
        "the disk under `folder` needs this much free per import running at once",
    )
    max_concurrent: int = Field(
        1, ge=1, le=16, description="uploads received or imported at once by this process; one more is answered 503"
    )
    folder: Path | None = Field(
        None,
        description="where uploads, their status and their rejects files are kept (default: var_dir/imports); "
        "every API process behind one address must see the same folder",
    )
    keep_days: float = Field(
        30, gt=0, description="a finished import's status and rejects file are deleted this long after it ended"
    )
    stall_s: float = Field(
        60,
        gt=0,
        le=3600,
        description="longest an upload may send nothing before it is refused (408) and dropped: a producer that "
        "stops sending mid-file would otherwise hold one of imports.max_concurrent for ever",
    )


class RetentionSettings(BaseModel):
    """What the hub forgets with age (the rule: core/store/retention.py; docs/operations.md)."""

    model_config = ConfigDict(extra="forbid")

    outbox_delivered_days: float | None = Field(
        90, gt=0, description="delivered outbox rows older than this are deleted (those still needed are kept); "
        "null: kept for ever"
    )
    inbox_payload_days: float | None = Field(
        365, gt=0, description="raw inbox payloads older than this are dropped, the message row and its "
        "rejections kept (never the source of a version in force); null: kept for ever"
    )
    interval_s: float = Field(3600, gt=0, description="how often the scheduler leader runs the purge")
    batch_size: int = Field(5000, ge=1, le=100_000, description="rows purged per transaction")


class LedgerSettings(BaseModel):
    """When the area ledger catches up with new plan projects sent to e-LAAS or e-budgeting (decision 0017)."""

    model_config = ConfigDict(extra="forbid")

    wait_for_delivery_s: float = Field(
        60, ge=0, le=86_400, description="a new plan project sent to e-LAAS or e-budgeting gets its ledger rows at "
        "that first delivery, or from the scheduler leader once it has waited this long (a refused, held or slow "
        "delivery)"
    )
    catch_up_interval_s: float = Field(10, gt=0, le=3600, description="how often the scheduler leader looks for them")


class PushExpectation(BaseModel):
    """How often a system that pushes is expected to send something (the not-synced alert's yardstick)."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(gt=0, description="a payload is expected at least this often; three intervals "
                              "without one make PrasanSystemNotSynced fire")


class OcdsSettings(BaseModel):
    """The OCDS export's publisher (docs/ocds.md). A real publication needs the prefix the OCDS Helpdesk
    registers for the publisher; the default has the shape of one but is nobody's."""

    model_config = ConfigDict(extra="forbid")

    ocid_prefix: str = Field(
        "ocds-prasan-", pattern=r"^ocds-[a-z0-9]{6}-$",
        description="the publisher's ocid prefix (ocds- and the six characters the OCDS Helpdesk registered, then -); "
        "an ocid is the prefix and the e-GP project number",
    )  # fmt: skip
    publisher_name: str = Field("Prasan", min_length=1, max_length=200, description="the publisher named in each package")
    publisher_uri: str | None = Field(None, pattern=r"^https?://", description="a URI that identifies the publisher")
    license: str | None = Field(None, pattern=r"^https?://", description="the URI of the data's licence")
    public_url: str | None = Field(
        None, pattern=r"^https?://[^/]+$",
        description="scheme://host[:port] the hub is reached at from outside, for the packages' uri; "
        "unset: the address of the request",
    )  # fmt: skip


class PullSchedule(BaseModel):
    """One system's entry in `pull_schedules`: which of its streams to pull, and how often."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float | None = Field(None, gt=0, description="time between pulls; default: each stream's own")
    entity_types: list[str] | None = Field(None, min_length=1, description="the streams to pull; default: all")
    entity_type: str | None = Field(None, description="one stream (the form of earlier versions)")


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRASAN_", extra="ignore", env_nested_delimiter="__")

    config_dir: Path | None = Field(
        None,
        description="the operator's configuration folder (PRASAN_CONFIG_DIR): hub.yaml, routes.yaml, "
        "identity.yaml and reconciliation.yaml; unset: the shipped defaults and no hub.yaml. Reference data (code lists, crosswalks, master data) is "
        "always the copy shipped with the hub",
    )
    var_dir: Path = Field(
        default_factory=default_var_dir,
        description="folder for the embedded database and demo.json (default: ./var under the working directory)",
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in var_dir")
    database_pool_size: int = Field(
        5, ge=1, le=200, description="PostgreSQL connections each process keeps open (docs/operations.md sizes it)"
    )
    database_max_overflow: int = Field(
        10, ge=0, le=500, description="PostgreSQL connections a process may open beyond database_pool_size at a peak"
    )
    database_pool_timeout_s: float = Field(
        10.0, gt=0, le=300,
        description="longest a request waits for a free connection before it is answered 503 with Retry-After",
    )
    http_host: str = Field("127.0.0.1", description="address the HTTP server binds")
    http_port: int = Field(8080, ge=0, le=65535, description="port of the HTTP server (0: any free port)")
    log_level: str = Field("info", description="debug, info, warning or error")
    log_format: str = Field("auto", description="json, console, or auto (console on a terminal)")
    scheduler_enabled: bool = Field(True, description="run scheduled pulls and health checks in this process")
    role: Literal["all", "scheduler", "worker"] = Field(
        "all",
        description="what this process runs besides HTTP: all (delivery workers and the scheduler), scheduler "
        "(scheduled pulls and health checks, no delivery workers) or worker (delivery workers, no scheduler); "
        "several processes share one database. 'api', its former name, still means scheduler",
    )

    worker_id: str = Field(
        "",
        max_length=120,
        description="this process's name in delivery claims and leases (PRASAN_WORKER_ID), one per live "
        "process; empty: a slot under var_dir/process-ids/ that the process keeps across restarts, so that a "
        "restarted process takes back its own deliveries at once instead of waiting for their lease "
        "(docs/crash-safety.md)",
    )
    shutdown_grace_s: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="on SIGTERM, how long requests being answered and deliveries being written may take to "
        "finish; past it the rest is given back to be sent again (by this process's restart or another)",
    )

    @field_validator("role", mode="before")
    @classmethod
    def _former_role_name(cls, value: Any) -> Any:
        # 'api' said what the process served, not what it ran; kept so that deployments keep working.
        return "scheduler" if value == "api" else value
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    systems: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-system settings")
    pull_schedules: dict[str, PullSchedule] = Field(
        default_factory=dict,
        description="systems to poll: system -> {interval_s, entity_types} (each of the system's streams, "
        "or those listed; interval_s defaults to the stream's own)",
    )
    push_expectations: dict[str, PushExpectation] = Field(
        default_factory=dict,
        description="systems that push to the hub: system -> {interval_s}, how often they are expected to send; "
        "exported as prasan_push_expected_interval_seconds next to their last-received time",
    )
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    limits: PayloadLimits = Field(default_factory=PayloadLimits)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    ocds: OcdsSettings = Field(default_factory=OcdsSettings)
    destination_url_allowlist: list[str] = Field(
        default_factory=list,
        description="origins (scheme://host[:port]) a system URL may be changed to through the admin API; "
        "an entry without a port allows any port of that host; empty: no URL may be changed at run time",
    )
    classification_authorities: dict[str, list[str]] = Field(
        default_factory=lambda: {"national-classification": ["ebudget"]},
        description="code list scheme -> the systems that are its authority: a line from one of them naming a "
        "node its fiscal year's list lacks adds the node (listed for review) instead of being rejected",
    )

    @field_validator("config_dir")
    @classmethod
    def _config_dir_exists(cls, value: Path | None) -> Path | None:
        # A mistyped PRASAN_CONFIG_DIR would otherwise run the hub on the shipped defaults without a word.
        if value is not None and not value.is_dir():
            raise ValueError(f"the configuration folder {value} does not exist (PRASAN_CONFIG_DIR)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _HubYamlSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / 'prasan.db'}"

    @property
    def routes_file(self) -> Path:
        """`routes.yaml` of the operator's configuration folder if it has one, else the shipped default."""
        return self._operator_or_shipped("routes.yaml")

    @property
    def reconciliation_file(self) -> Path:
        """`reconciliation.yaml` (the rules that flag amounts disagreeing across systems) of the operator's
        configuration folder if it has one, else the shipped default."""
        return self._operator_or_shipped("reconciliation.yaml")

    def _operator_or_shipped(self, name: str) -> Path:
        if self.config_dir is not None and (self.config_dir / name).is_file():
            return self.config_dir / name
        return SHIPPED_CONFIG_DIR / name

    @property
    def identity_file(self) -> Path:
        """`identity.yaml` (which records of different systems are one, and whose fields win) of the operator's
        configuration folder if it has one, else the shipped default."""
        return self._operator_or_shipped("identity.yaml")


class _HubYamlSource(PydanticBaseSettingsSource):
    """Reads `hub.yaml` from PRASAN_CONFIG (a file) or from the operator's folder PRASAN_CONFIG_DIR."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        explicit = os.environ.get("PRASAN_CONFIG")
        if explicit:
            path = Path(explicit)
        elif os.environ.get("PRASAN_CONFIG_DIR"):
            path = Path(os.environ["PRASAN_CONFIG_DIR"]) / "hub.yaml"
        else:
            return {}  # no operator folder: the defaults, overridden by the environment only
        if not path.is_file():
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping of settings")
        return data
