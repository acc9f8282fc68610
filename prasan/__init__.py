"""The public API for plugin authors; everything else in the hub may move without notice.

    from prasan import hookimpl, SystemDescription, Capability, NativeRecord, MappedRecord, Delivered
"""

from canonical_model import ENTITY_TYPES, Rejection
from core.errors import ConfigError, PermanentError, PrasanError, RecordError, TransientError
from core.hookspecs import hookimpl
from core.mapping import Mapping, MappingError
from core.payloads import PayloadError, tabular_records
from core.plugin_types import (
    Capability,
    Delivered,
    Health,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    Rejected,
    Retryable,
    SystemDescription,
    WriteItem,
)

__all__ = [
    "ENTITY_TYPES",
    "Capability",
    "ConfigError",
    "Delivered",
    "Health",
    "MappedRecord",
    "Mapping",
    "MappingError",
    "NativeRecord",
    "PayloadError",
    "PermanentError",
    "PrasanError",
    "ReadBatch",
    "RecordError",
    "Rejected",
    "Rejection",
    "Retryable",
    "SystemDescription",
    "TransientError",
    "WriteItem",
    "hookimpl",
    "tabular_records",
]
