"""Table definitions: the single description of the schema that queries and migrations agree on.

Timestamps are UTC everywhere: `UTCDateTime` converts aware values to UTC on the way in and gives
back aware values on the way out, because SQLite has no time zones and would otherwise return naive
values that compare wrongly against `datetime.now(UTC)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

from core.ledger import AMOUNTS as LEDGER_AMOUNTS
from core.ledger import CLASSIFIED_AMOUNTS

# Constraint names are fixed so that later migrations can refer to them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Deliveries not settled yet.
OPEN_STATES = ("pending", "in_flight", "held")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored as UTC and always read back as an aware datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Naive values are taken to be UTC already: that is what every caller in the hub uses.
            return value.replace(tzinfo=UTC) if dialect.name != "sqlite" else value
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text, so every stored value must have the same shape.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


inbox_messages = Table(
    "inbox_messages",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("system", String(64), nullable=False),
    Column("client_name", String(128), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("media_type", String(255), nullable=True),
    Column("charset", String(64), nullable=True),
    Column("payload_sha256", String(64), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("response_json", Text(), nullable=True),
    Column("record_count", Integer(), nullable=False, server_default=text("0")),
    Column("accepted_count", Integer(), nullable=False, server_default=text("0")),
    Column("rejected_count", Integer(), nullable=False, server_default=text("0")),
    Column("outcome", String(16), nullable=False),
    # A payload stored in chunks (core/store/inbox/chunks.py): outcome 'storing' until its last chunk; the
    # records per chunk, the chunks stored so far, and when the last one was.
    Column("chunk_records", Integer(), nullable=True),
    Column("stored_chunks", Integer(), nullable=True),
    Column("progress_at", UTCDateTime(), nullable=True),
    # Set when retention dropped the payload bytes (core/store/retention.py); the row stays.
    Column("payload_purged_at", UTCDateTime(), nullable=True),
    Index("ix_inbox_messages_system_received_at", "system", "received_at"),
    Index("ix_inbox_messages_outcome_progress_at", "outcome", "progress_at"),
    Index(
        "ix_inbox_messages_payload_kept_received",
        "received_at",
        sqlite_where=text("payload_purged_at IS NULL"),
        postgresql_where=text("payload_purged_at IS NULL"),
    ),
    # NULL keys never collide on either engine, so requests without a key are unaffected.
    UniqueConstraint("client_name", "idempotency_key", name="uq_inbox_messages_client_idempotency"),
)

inbox_rejections = Table(
    "inbox_rejections",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column(
        "message_id",
        String(32),
        ForeignKey("inbox_messages.message_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("row", Integer(), nullable=True),
    Column("field", String(255), nullable=True),
    Column("value", Text(), nullable=True),
    Column("rule", String(128), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("native_record", Text(), nullable=True),
)

# What each stored chunk of a message became (its rows' entity outcomes), until the message is complete:
# the answer of a message completed after a crash includes the chunks stored before it.
# The bytes of each message as received, beside its row and never updated (migration 0012). SQLite
# rewrites a whole row on every UPDATE, and a message's row is updated as it is stored (counts, chunks,
# answer): with the payload inside, each update read the payload and wrote part of it again (a 6 MB
# payload: 15 ms and 1.2 MB of WAL per update, against 0.2 ms and 4 KB without). Alone after its key, the payload is also written in place on SQLite
# (core/store/inbox/payloads.py), so that SQLite holds no copy of a large body in memory.
inbox_payloads = Table(
    "inbox_payloads",
    metadata,
    Column("message_id", String(32), ForeignKey("inbox_messages.message_id", ondelete="CASCADE"), primary_key=True),
    Column("payload", LargeBinary(), nullable=False),
)

inbox_chunks = Table(
    "inbox_chunks",
    metadata,
    Column("message_id", String(32), ForeignKey("inbox_messages.message_id", ondelete="CASCADE"), primary_key=True),
    Column("chunk", Integer(), primary_key=True),
    Column("answer_json", Text(), nullable=False),
)

entities = Table(
    "entities",
    metadata,
    Column("entity_id", String(32), primary_key=True),
    Column("entity_type", String(64), nullable=False),
    Column("org_code", String(64), nullable=True),
    Column("fiscal_year", Integer(), nullable=True),
    Column("current_version", Integer(), nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_entities_type_org_year", "entity_type", "org_code", "fiscal_year"),
)

entity_versions = Table(
    "entity_versions",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("message_id", String(32), nullable=True, index=True),
    Column("source_system", String(64), nullable=False),
    Column("mapping_version", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("entity_id", "version"),
)

xrefs = Table(
    "xrefs",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("system", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    PrimaryKeyConstraint("entity_id", "system"),
    UniqueConstraint("system", "entity_type", "external_id", name="uq_xrefs_system_type_external"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("delivery_key", String(255), nullable=False, unique=True),
    Column("destination", String(64), nullable=False),
    Column("route", String(128), nullable=True),
    Column("entity_id", String(32), ForeignKey("entities.entity_id"), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("max_attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(128), nullable=True),
    Column("claim_expires_at", UTCDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # When the delivery first failed with a retryable error; the outage budget (delivery.retry_window_s)
    # runs from here. Cleared by a replay.
    Column("first_failed_at", UTCDateTime(), nullable=True),
    # The claim query walks only its destination's due pending rows in time order; delivered rows (the
    # vast majority after a while) never enter this index (migration 0011).
    Index(
        "ix_outbox_pending_destination_due",
        "destination",
        "next_attempt_at",
        "id",
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
    Index(
        "ix_outbox_in_flight_expiry",
        "claim_expires_at",
        sqlite_where=text("state = 'in_flight'"),
        postgresql_where=text("state = 'in_flight'"),
    ),
    # Serves the "is an earlier version of this entity still open?" check and per-entity reads.
    Index("ix_outbox_entity_destination_version", "entity_id", "destination", "version"),
    Index("ix_outbox_destination_state", "destination", "state"),
    # The scrape-time gauges count each open state through its own partial index (pending and in-flight
    # rows through the two above); retention walks delivered rows by age. Neither reads the whole outbox
    # (core/store/gauges.py). Each predicate names one state: an index over several open states would
    # match the claim's "is an earlier version still open?" test too, and a planner without statistics
    # would pick it there and scan every open row of the destination once per candidate.
    Index(
        "ix_outbox_held_destination",
        "destination",
        sqlite_where=text("state = 'held'"),
        postgresql_where=text("state = 'held'"),
    ),
    Index(
        "ix_outbox_delivered_at",
        "delivered_at",
        sqlite_where=text("state = 'delivered'"),
        postgresql_where=text("state = 'delivered'"),
    ),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("outbox_id", Integer(), ForeignKey("outbox.id"), nullable=False, index=True),
    Column("delivery_key", String(255), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("entity_id", String(32), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("resolution_note", Text(), nullable=True),
    Index("ix_dead_letters_destination_resolved", "destination", "resolved_at"),
    Index(
        "ix_dead_letters_open_destination",
        "destination",
        sqlite_where=text("resolved_at IS NULL"),
        postgresql_where=text("resolved_at IS NULL"),
    ),
    # Finds the dead letters a delivered newer version supersedes (closed in the same transaction).
    Index("ix_dead_letters_entity_destination", "entity_id", "destination"),
)

pull_cursors = Table(
    "pull_cursors",
    metadata,
    Column("system", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("cursor", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Written only when a pull succeeds (updated_at also moves on each ingested page and cursor edit).
    Column("last_success_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("system", "entity_type"),
)

api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("system", String(64), nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False, server_default=text("false")),
    Column("allowed_orgs", Text(), nullable=True),
    Column("allowed_provinces", Text(), nullable=True),
    # Shared secret for optional HMAC request signing; it must be readable to verify a signature,
    # so unlike the key it cannot be stored as a hash.
    Column("hmac_secret", Text(), nullable=True),
)

# --- admin and producer security (revision 0002) ---------------------------------------------------

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False, server_default=text("false")),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("actor", String(160), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=True),
    Column("before_json", Text(), nullable=True),
    Column("after_json", Text(), nullable=True),
    Column("detail", Text(), nullable=True),
)

# Signed requests seen within their validity window, by the hash of client and nonce (the column kept
# its first name); the primary key makes a second use fail in every hub process that shares the
# database, and expired rows are pruned as new ones arrive.
used_signatures = Table(
    "used_signatures",
    metadata,
    Column("signature", String(128), primary_key=True),
    Column("client_id", String(32), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# Changes made through the admin API or CLI over the baseline in config/ (routes.yaml, hub.yaml).
config_overrides = Table(
    "config_overrides",
    metadata,
    Column("kind", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("value_json", Text(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(160), nullable=False),
    PrimaryKeyConstraint("kind", "name"),
)


def _keys_table(name: str) -> Table:
    """(key, value) codes of each entity's current version, looked up by value; dropped with the entity."""
    return Table(
        name,
        metadata,
        Column("key", String(64), nullable=False),
        Column("value", String(255), nullable=False),
        Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
        PrimaryKeyConstraint("key", "value", "entity_id"),
        Index(f"ix_{name}_entity_id", "entity_id"),
    )


# --- links between records of different systems (revision 0005, core/linking.py) ---------------------

# One record belongs to another (a procurement to its plan project, a contract to its procurement). A link
# removed by an operator stays as a tombstone (removed_at set) so that the rules do not make it again.
entity_links = Table(
    "entity_links",
    metadata,
    Column("from_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("to_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("from_type", String(64), nullable=False),
    Column("to_type", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("evidence_json", Text(), nullable=True),
    Column("made_by", String(200), nullable=False),
    Column("note", Text(), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime(), nullable=True),
    Column("removed_by", String(200), nullable=True),
    PrimaryKeyConstraint("from_id", "to_id"),
    # The chain walks links backwards, from a plan project to what belongs to it.
    Index("ix_entity_links_to_id", "to_id"),
)

# The codes by which a record can be found by others (core/linking.py KEYS), kept with each version.
link_keys = _keys_table("link_keys")

# Records without a link, why, and the keys they looked for: a record arriving with one of them makes
# the hub run the rules of the waiting record again.
unlinked_records = Table(
    "unlinked_records",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True),
    Column("entity_type", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("org_code", String(64), nullable=True),
    Column("fiscal_year", Integer(), nullable=True),
    Column("reason", String(64), nullable=False),
    Column("detail", Text(), nullable=False),
    Column("evaluated_at", UTCDateTime(), nullable=False),
    Index("ix_unlinked_records_system_type", "system", "entity_type"),
)

link_wanted = Table(
    "link_wanted",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("value", String(255), nullable=False),
    PrimaryKeyConstraint("entity_id", "key", "value"),
    Index("ix_link_wanted_key_value", "key", "value"),
)

# The match keys of config/identity.yaml, kept with each version: a record from another system with one of
# them is the same record (core/record_identity.py).
identity_keys = _keys_table("identity_keys")

# Values a system offered for a field another system of the same entity is authoritative for: not taken,
# and not lost either.
entity_conflicts = Table(
    "entity_conflicts",
    metadata,
    Column("conflict_id", Integer(), primary_key=True, autoincrement=True),
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("field", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("offered_json", Text(), nullable=True),
    Column("kept_by", String(64), nullable=False),
    Column("kept_json", Text(), nullable=True),
    Column("message_id", String(32), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_entity_conflicts_entity_id", "entity_id"),
)

def _area_columns() -> list[Column[Any]]:
    """The organisation of a ledger row and the area it lies in, repeated in each ledger table so that an
    area's figures read one table."""
    return [
        Column("org_code", String(16), nullable=False),
        Column("org_type", String(40), nullable=True),
        Column("province_code", String(4), nullable=True),
        Column("district_code", String(8), nullable=True),
    ]


def _area_indexes(table: str) -> list[Index]:
    """A ledger table's rows of a province, a district or an organisation in a fiscal year."""
    return [
        Index(f"ix_{table}_{level}_year", column, "fiscal_year")
        for level, column in (("province", "province_code"), ("district", "district_code"), ("org", "org_code"))
    ]


# The area ledger (core/ledger.py): one row per plan project and fiscal year, kept with the entities in the
# same transactions, so that area queries read indexed columns and never JSON bodies.
ledger_projects = Table(
    "ledger_projects",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("fiscal_year", Integer(), nullable=False),
    *_area_columns(),
    Column("title", Text(), nullable=False),
    # The local แผนงาน the project cites (local classification, functional): the figures by classification.
    Column("programme", String(200), nullable=True),
    Column("stage", String(16), nullable=False),
    # Whole satang, not NUMERIC: SQLite keeps a NUMERIC as a float and sums it as one, and a province's
    # total must come out to the satang on both databases.
    *(Column(name, BigInteger(), nullable=False) for name in LEDGER_AMOUNTS),
    Column("flags", Integer(), nullable=False, server_default=text("0")),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("entity_id", "fiscal_year"),
    *_area_indexes("ledger_projects"),
    # Reconciliation lists and counts read only the flagged rows.
    Index(
        "ix_ledger_projects_flagged",
        "flags",
        "fiscal_year",
        sqlite_where=text("flags != 0"),
        postgresql_where=text("flags != 0"),
    ),
)

# The classified stages of a ledger row split by งบ (core/expense_categories.py): one row per plan project,
# fiscal year, local งบ and national งบรายจ่าย LV1, written with its ledger_projects row. The area, stage
# and flags are the ledger row's, repeated so that a province's totals by งบ read this table alone.
ledger_categories = Table(
    "ledger_categories",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), nullable=False),
    Column("fiscal_year", Integer(), nullable=False),
    # "" where there is none, not NULL: both are part of the key. A local code with an empty national one is
    # a งบ the crosswalk does not carry (งบกลาง); both empty, records that name no งบ.
    Column("local_category", String(80), nullable=False),
    Column("national_category", String(80), nullable=False),
    *_area_columns(),
    Column("stage", String(16), nullable=False),
    Column("flags", Integer(), nullable=False, server_default=text("0")),
    *(Column(name, BigInteger(), nullable=False) for name in CLASSIFIED_AMOUNTS),  # whole satang, as ledger_projects
    PrimaryKeyConstraint("entity_id", "fiscal_year", "local_category", "national_category"),
    *_area_indexes("ledger_categories"),
)

# Plan projects a batch created and sent to e-LAAS or e-budgeting: their ledger rows are written at that first
# delivery, which moves their stage, instead of once at ingest and again then (decision 0017). The scheduler
# leader projects those still waiting after `ledger.wait_for_delivery_s` (a refused or held delivery).
ledger_pending = Table(
    "ledger_pending",
    metadata,
    Column("entity_id", String(32), ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True),
    Column("marked_at", UTCDateTime(), nullable=False),
    Index("ix_ledger_pending_marked_at", "marked_at"),
)
