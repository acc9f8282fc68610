"""One native record into one canonical entity: the mapping, the model's own checks reported against
the native field the value came from, and the record's external id as the transport declares it."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError

from plugins.sola.transport import ExternalId
from plugins.sola.wire import at_path
from prasan import ENTITY_TYPES, MappedRecord, Mapping, MappingError, MappingProblem, NativeRecord
from prasan.canonical import normalize_text, rejections_from_validation_error, to_arabic_digits


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() not in ("", "-")


def _key_text(value: Any) -> str:
    # The same id typed with Thai digits or extra spaces must name the same record.
    return to_arabic_digits(normalize_text(str(value)))


def external_id(data: dict[str, Any], alternatives: list[ExternalId]) -> str | None:
    """The first alternative whose fields are all filled; None when none is."""
    for alternative in alternatives:
        names = alternative.fields or alternative.hash
        values = [at_path(data, name) for name in names]
        if not all(_filled(value) for value in values):
            continue
        texts = [_key_text(value) for value in values]
        if alternative.fields:
            return alternative.prefix + alternative.sep.join(texts)
        # A title retyped in other letter case is still the same project.
        digest = hashlib.sha256("\x1f".join(texts).casefold().encode("utf-8")).hexdigest()[:32]
        return f"{alternative.prefix or 'h:'}{digest}"
    return None


def _native_field(mapping: Mapping, canonical: str | None) -> str | None:
    """The native field a canonical path came from, so that the sender sees their own field name."""
    if not canonical:
        return None
    for rule in mapping.spec.fields:
        if rule.target == canonical or canonical.startswith(rule.target + "."):
            return rule.source or rule.each or canonical
    return canonical


def _named_columns(mapping: Mapping, exc: MappingError) -> MappingError:
    """A refused year in a column name is reported by the engine against the unpivot pattern; name the
    column itself (the engine passes it as the value), since that is what the sender wrote."""
    patterns = {rule.unpivot.pattern for rule in mapping.spec.fields if rule.unpivot and rule.unpivot.pattern}
    problems = [
        MappingProblem(p.line, p.target, p.value, p.value, p.rule, p.reason)
        if p.source_field in patterns and isinstance(p.value, str) else p
        for p in exc.problems
    ]
    return MappingError(problems, mapping=exc.mapping, system=mapping.system, entity_type=mapping.entity_type)


def validated(mapping: Mapping, entity_type: str, body: dict[str, Any]) -> Any:
    try:
        return ENTITY_TYPES[entity_type].model_validate(body)
    except ValidationError as exc:
        problems = [
            MappingProblem(0, rej.field or "", _native_field(mapping, rej.field), rej.value, rej.rule, rej.reason)
            for rej in rejections_from_validation_error(exc)
        ]
        raise MappingError(problems, mapping=mapping.name, system=mapping.system, entity_type=entity_type) from None


def map_in(
    record: NativeRecord, mapping: Mapping, entity_type: str, alternatives: list[ExternalId]
) -> list[MappedRecord]:
    def refuse(problems: list[MappingProblem]) -> MappingError:
        return MappingError(problems, mapping=mapping.name, system=mapping.system, entity_type=entity_type,
                            record_key=str(record.row))

    if record.problems:
        raise refuse([MappingProblem(0, "", p.field, p.value, p.rule, p.reason) for p in record.problems])
    try:
        body = mapping.map_in(record.data)
    except MappingError as exc:
        raise _named_columns(mapping, exc) from None
    entity = validated(mapping, entity_type, body)
    name = external_id(record.data, alternatives)
    if name is None:
        fields = " or ".join("+".join(a.fields or a.hash) for a in alternatives) or "(none declared)"
        raise refuse([MappingProblem(0, "external_id", fields, None, "sola.external_id_missing",
                                     f"the record has no id: fill {fields}")])
    return [MappedRecord(entity_type=entity_type, external_id=name, payload=entity,
                         mapping_version=str(mapping.version))]
