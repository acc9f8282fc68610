"""docs/canonical-model.md shows the models as they are: its generated part is what the generator renders."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen_canonical_model_docs.py"


def _generator() -> ModuleType:
    # scripts/ is not a package: load the generator from its path.
    spec = importlib.util.spec_from_file_location("gen_canonical_model_docs", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_doc_matches_the_models() -> None:
    gen = _generator()
    committed = gen.generated_part(gen.DOC.read_text(encoding="utf-8"))
    fresh = gen.render()
    if committed != fresh:
        committed_lines, fresh_lines = committed.splitlines(), fresh.splitlines()
        first = next(
            (i for i, (a, b) in enumerate(zip(committed_lines, fresh_lines)) if a != b),
            min(len(committed_lines), len(fresh_lines)),
        )
        shown_doc = committed_lines[first] if first < len(committed_lines) else "(end of generated part)"
        shown_gen = fresh_lines[first] if first < len(fresh_lines) else "(end of generated part)"
        raise AssertionError(
            "docs/canonical-model.md is out of date with canonical_model; regenerate it with\n"
            f"    {gen.REGENERATE}\n"
            "and commit the result.\n"
            f"First difference, line {first + 1} of the generated part:\n"
            f"  doc:       {shown_doc}\n"
            f"  generated: {shown_gen}"
        )


def test_every_entity_type_and_nested_model_has_a_table() -> None:
    import canonical_model

    fresh = _generator().render()
    for entity_type in canonical_model.ENTITY_TYPES:
        assert f"### `{entity_type}`" in fresh
    for nested in ("YearAmount", "ClassificationRef", "SourceRef", "ProjectLinks", "Winner", "Revision"):
        assert f"#### {nested}" in fresh
    assert "Money (decimal string)" in fresh
