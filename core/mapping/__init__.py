"""Declarative field mapping between a system's native records and canonical payloads (YAML driven)."""

from core.mapping.converters import Converter, register_converter
from core.mapping.engine import Mapping
from core.mapping.errors import MappingError, MappingProblem, MappingSpecError

__all__ = ["Converter", "Mapping", "MappingError", "MappingProblem", "MappingSpecError", "register_converter"]
