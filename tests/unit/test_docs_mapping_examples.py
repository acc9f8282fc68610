"""Every YAML example in docs/mapping-language.md is real: it compiles, and its documented input maps
to its documented output.

The convention (described at the end of the document itself): each ```yaml block is preceded by an HTML
comment, either `<!-- fragment -->` (a list of rules, compiled inside a file header) or
`<!-- example: NAME MODE [valid] -->` (a whole mapping file followed by ```json blocks):

    in          native record, canonical payload of map_in
    out         canonical payload, native record of map_out
    both        native record, canonical payload of map_in, native record of map_out of that payload
    in-error    native record, problems of try_map_in (each object: the attributes to compare)
    spec-error  problems of loading the file

`valid` also validates the canonical payload with the model of the mapping's entity_type. Results are
compared in JSON form (Decimal as its string, dates as ISO), as the hub stores them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from canonical_model import ENTITY_TYPES
from core.mapping import Mapping, MappingSpecError
from core.reference_data import load_reference_data

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping-language.md"

# A marker (an HTML comment alone on its line) or a fenced block, in document order.
_TOKEN = re.compile(
    r"^<!--\s*(?P<kind>example|fragment)\b(?P<args>[^>\n]*?)-->[ \t]*$"
    r"|^```(?P<lang>[A-Za-z]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_JSON_BLOCKS = {"in": 2, "out": 2, "both": 3, "in-error": 2, "spec-error": 1}
_FRAGMENT_HEADER = "mapping: fragment\nversion: 1\nsystem: docs\nentity_type: plan_project\nfields:\n"


@dataclasses.dataclass
class Example:
    name: str
    mode: str
    flags: frozenset[str]
    yaml_text: str
    data: list[Any]
    line: int


@dataclasses.dataclass
class Fragment:
    yaml_text: str
    line: int


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse_doc(text: str) -> tuple[list[Example], list[Fragment]]:
    """The examples and fragments of the document; a YAML block without a marker is an error."""
    examples: list[Example] = []
    fragments: list[Fragment] = []
    marker: dict[str, Any] | None = None  # the marker still waiting for its blocks

    def unfinished() -> AssertionError:
        assert marker is not None
        return AssertionError(f"line {marker['line']}: marker not followed by all its blocks")

    for match in _TOKEN.finditer(text):
        line = _line(text, match.start())
        kind = match.group("kind")
        if kind:
            if marker is not None:
                raise unfinished()
            if kind == "fragment":
                marker = {"kind": kind, "line": line}
                continue
            args = match.group("args").strip().removeprefix(":").split()
            if len(args) < 2 or args[1] not in _JSON_BLOCKS:
                modes = ", ".join(sorted(_JSON_BLOCKS))
                raise AssertionError(f"line {line}: write <!-- example: NAME MODE -->, MODE one of {modes}")
            marker = {"kind": kind, "line": line, "name": args[0], "mode": args[1],
                      "flags": frozenset(args[2:]), "yaml": None, "data": []}
            continue
        lang, body = match.group("lang").lower(), match.group("body")
        if lang in ("yaml", "yml"):
            if marker is None or marker.get("yaml") is not None:
                raise AssertionError(
                    f"line {line}: a ```yaml block needs <!-- example: NAME MODE --> "
                    "or <!-- fragment --> before it"
                )
            if marker["kind"] == "fragment":
                fragments.append(Fragment(body, line))
                marker = None
            else:
                marker["yaml"] = body
            continue
        if lang != "json" or marker is None or marker.get("yaml") is None:
            continue  # other code blocks are prose
        try:
            marker["data"].append(json.loads(body))
        except json.JSONDecodeError as exc:
            where = f"line {line}: example {marker['name']!r}"
            raise AssertionError(f"{where}: JSON does not parse: {exc}") from None
        if len(marker["data"]) == _JSON_BLOCKS[marker["mode"]]:
            fields = ("name", "mode", "flags", "yaml", "data", "line")
            examples.append(Example(*(marker[key] for key in fields)))
            marker = None
    if marker is not None:
        raise unfinished()
    return examples, fragments


def _jsonable(value: Any) -> Any:
    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return str(obj)
        if isinstance(obj, (dt.date, dt.datetime)):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON")

    return json.loads(json.dumps(value, default=default, ensure_ascii=False))


def _compile(example: Example) -> Mapping:
    return Mapping.from_yaml(example.yaml_text, reference=load_reference_data())


def _problems_match(actual: list[Any], expected: list[dict[str, Any]], where: str) -> None:
    shown = [_jsonable(dataclasses.asdict(p)) for p in actual]
    assert len(actual) == len(expected), f"{where}: expected {len(expected)} problems, got {shown}"
    for got, want in zip(shown, expected):
        assert {k: got.get(k) for k in want} == want, f"{where}: expected {want}, got {got}"


TEXT = DOC.read_text(encoding="utf-8")
try:
    EXAMPLES, FRAGMENTS = parse_doc(TEXT)
    PARSE_ERROR: AssertionError | None = None
except AssertionError as exc:  # reported by a test below rather than as a collection error
    EXAMPLES, FRAGMENTS, PARSE_ERROR = [], [], exc


def test_the_doc_follows_the_example_convention() -> None:
    if PARSE_ERROR is not None:
        raise AssertionError(f"docs/mapping-language.md: {PARSE_ERROR}")


def test_the_doc_has_examples_of_each_kind() -> None:
    modes = {example.mode for example in EXAMPLES}
    assert {"in", "out", "both", "in-error", "spec-error"} <= modes
    names = [example.name for example in EXAMPLES]
    assert len(names) == len(set(names)), f"example names repeat: {names}"
    # Both worked examples: a map-in one and a map-out one with an explicit `out:` block.
    assert any(e.mode == "in" and "direction: in" in e.yaml_text for e in EXAMPLES)
    assert any(
        e.mode == "out" and "direction: out" in e.yaml_text and re.search(r"^\s+out:", e.yaml_text, re.M)
        for e in EXAMPLES
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example(example: Example) -> None:
    where = f"docs/mapping-language.md line {example.line}, example {example.name!r}"
    if example.mode == "spec-error":
        with pytest.raises(MappingSpecError) as caught:
            _compile(example)
        _problems_match(caught.value.problems, example.data[0], where)
        return
    mapping = _compile(example)
    canonical: Any = None
    if example.mode in ("in", "both"):
        native, canonical = example.data[0], example.data[1]
        result, problems = mapping.try_map_in(native)
        assert not problems, f"{where}: map_in refused the record: {[str(p) for p in problems]}"
        assert _jsonable(result) == canonical, f"{where}: map_in gave {_jsonable(result)}"
    if example.mode == "both":
        written = mapping.map_out(canonical)
        assert _jsonable(written) == example.data[2], f"{where}: map_out gave {_jsonable(written)}"
    if example.mode == "out":
        canonical, native = example.data
        written, problems = mapping.try_map_out(canonical)
        assert not problems, f"{where}: map_out refused the payload: {[str(p) for p in problems]}"
        assert _jsonable(written) == native, f"{where}: map_out gave {_jsonable(written)}"
    if example.mode == "in-error":
        result, problems = mapping.try_map_in(example.data[0])
        assert result is None, f"{where}: expected problems, got {result}"
        _problems_match(problems, example.data[1], where)
    if "valid" in example.flags:
        model = ENTITY_TYPES[mapping.entity_type]
        model.model_validate(canonical)


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=[f"line-{f.line}" for f in FRAGMENTS])
def test_fragment_compiles(fragment: Fragment) -> None:
    rules = yaml.safe_load(fragment.yaml_text)
    assert isinstance(rules, list), f"line {fragment.line}: a fragment is a list of rules"
    body = "".join("  " + line + "\n" for line in fragment.yaml_text.splitlines())
    Mapping.from_yaml(_FRAGMENT_HEADER + body, reference=load_reference_data())


def test_a_yaml_block_without_a_marker_is_refused() -> None:
    with pytest.raises(AssertionError, match="needs <!-- example"):
        parse_doc("Some text.\n\n```yaml\nmapping: x\n```\n")
    with pytest.raises(AssertionError, match="not followed by all its blocks"):
        parse_doc("<!-- example: x in -->\n```yaml\nmapping: x\n```\n\n```json\n{}\n```\n")
