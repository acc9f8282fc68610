"""Field paths on either side of a mapping: `a.b.c`, `items[0].x`, `classification[level=plan].code`.

A path is parsed once, when the mapping is compiled, into a tuple of steps; reading and writing then
walk plain dicts and lists without any string work. A key selector (`[level=plan]`) finds the first
list item whose key has that value, and creates it on write, so that list order in a canonical payload
does not have to match the order of the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Select:
    """`[key=value]`: the first list item whose `key` equals `value`."""

    key: str
    value: str


Step = str | int | Select

_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)|(\.)")


def parse_path(text: str) -> tuple[Step, ...]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a path must be a non-empty string, not {text!r}")
    steps: list[Step] = []
    pos = 0
    expect_name = True
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read path {text!r} at {pos}")
        bracket, name, dot = m.groups()
        if dot:
            if expect_name:
                raise ValueError(f"empty segment in path {text!r}")
            expect_name = True
        elif name is not None:
            if not expect_name:
                raise ValueError(f"missing '.' before {name!r} in path {text!r}")
            steps.append(name.strip())
            expect_name = False
        else:
            inner = bracket.strip()
            if inner.lstrip("-").isdigit():
                steps.append(int(inner))
            elif "=" in inner:
                key, _, value = inner.partition("=")
                if not key.strip():
                    raise ValueError(f"selector without a key in path {text!r}")
                steps.append(Select(key.strip(), value.strip()))
            else:
                raise ValueError(f"bad index [{bracket}] in path {text!r} (use [0] or [key=value])")
            expect_name = False
        pos = m.end()
    if expect_name:
        raise ValueError(f"path {text!r} ends with '.'")
    return tuple(steps)


def _get(value: Any, steps: tuple[Step, ...]) -> Any:
    for step in steps:
        if isinstance(step, str):
            if not isinstance(value, dict) or step not in value:
                return MISSING
            value = value[step]
        elif isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return MISSING
            value = value[step]
        else:
            if not isinstance(value, list):
                return MISSING
            for item in value:
                if isinstance(item, dict) and str(item.get(step.key)) == step.value:
                    value = item
                    break
            else:
                return MISSING
    return value


def getter(text: str) -> Callable[[dict[str, Any]], Any]:
    """A reader for `text`; a top-level key spelled exactly like the path wins (headers such as
    `ราคากลาง (บาท)` or `ม.ค.` are common in Thai exports and must not be split at their dots)."""
    try:
        steps = parse_path(text)
    except ValueError:
        steps = (text,)
    if len(steps) == 1 and steps[0] == text:
        return lambda record: record.get(text, MISSING) if isinstance(record, dict) else MISSING

    def get(record: dict[str, Any]) -> Any:
        if isinstance(record, dict) and text in record:
            return record[text]
        return _get(record, steps)

    return get


def _container_for(step: Step) -> Any:
    return {} if isinstance(step, str) else []


def _slot(container: Any, step: Step, next_step: Step | None) -> Any:
    """Return the child at `step`, creating it (as dict or list, by the next step) when absent."""
    if isinstance(step, str):
        if step not in container or container[step] is None:
            container[step] = _container_for(next_step) if next_step is not None else None
        return container[step]
    if isinstance(step, int):
        while len(container) <= step:
            container.append(None)
        if container[step] is None and next_step is not None:
            container[step] = _container_for(next_step)
        return container[step]
    for item in container:
        if isinstance(item, dict) and str(item.get(step.key)) == step.value:
            return item
    item = {step.key: step.value}
    container.append(item)
    return item


def setter(text: str, *, exact_fallback: bool = False) -> Callable[[dict[str, Any], Any], None]:
    """A writer for `text`; with `exact_fallback` (native field names) a name that is not a valid
    path is used as one literal key instead of being refused."""
    try:
        steps = parse_path(text)
    except ValueError:
        if not exact_fallback:
            raise
        steps = (text,)
    if isinstance(steps[-1], Select):
        raise ValueError(f"path {text!r} cannot end with a selector")
    if len(steps) == 1:
        key = steps[0]
        if isinstance(key, str):
            def set_top(record: dict[str, Any], value: Any) -> None:
                record[key] = value

            return set_top

    def set_deep(record: dict[str, Any], value: Any) -> None:
        node: Any = record
        for i, step in enumerate(steps[:-1]):
            node = _slot(node, step, steps[i + 1])
        last = steps[-1]
        if isinstance(last, int):
            while len(node) <= last:
                node.append(None)
        node[last] = value

    return set_deep
