"""The public API for plugin authors; everything else in the hub may move without notice.

    from prasan import AgencySystem, RestSystem, HttpSettings, Stream, hookimpl, Delivered, Rejected

A plugin registers one object per agency system (`docs/plugins.md` walks through writing one):

    @hookimpl
    def prasan_register(register):
        register.add_system(MyAgency)

The canonical model and its Thai value helpers are in `prasan.canonical`; the conformance kit and the
simulator helper in `prasan.testing`.
"""

from canonical_model import ENTITY_TYPES, Rejection
from core.contract import AgencySystem, Registrar, Stream, SystemContext, SystemSettings
from core.errors import ConfigError, PermanentError, PrasanError, RecordError, TransientError
from core.hookspecs import hookimpl
from core.http_system import HttpAnswer, HttpSettings, RestSystem, parse_retry_after
from core.mapping import Mapping, MappingError, MappingProblem
from core.mapping.converters import Args as ConverterArgs
from core.mapping.converters import Converter, identity
from core.payloads import XLSX_MEDIA_TYPE, PayloadError, fold_headers, loads_strict_json, require_columns, tabular_records
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
    WriteResult,
)
from core.settings import PayloadLimits

__all__ = [
    "ENTITY_TYPES",
    "AgencySystem",
    "Capability",
    "ConfigError",
    "Converter",
    "ConverterArgs",
    "Delivered",
    "Health",
    "HttpAnswer",
    "HttpSettings",
    "MappedRecord",
    "Mapping",
    "MappingError",
    "MappingProblem",
    "NativeRecord",
    "PayloadError",
    "PayloadLimits",
    "PermanentError",
    "PrasanError",
    "ReadBatch",
    "RecordError",
    "Registrar",
    "Rejected",
    "Rejection",
    "RestSystem",
    "Retryable",
    "Stream",
    "SystemContext",
    "SystemDescription",
    "SystemSettings",
    "TransientError",
    "WriteItem",
    "WriteResult",
    "XLSX_MEDIA_TYPE",
    "fold_headers",
    "hookimpl",
    "identity",
    "loads_strict_json",
    "parse_retry_after",
    "require_columns",
    "tabular_records",
]
