"""The store's JSON decoding (core/store/util.py `loads`, orjson where it agrees with json) gives the same
Python values as json.loads for every stored body: the bodies the hub writes, and the texts where orjson and
json part ways (integers past 64 bits, NaN and Infinity, numbers past a double, lone surrogates)."""

from __future__ import annotations

import json
import random
import struct
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from canonical_model.envelope import body_text
from core.store.util import dumps, loads


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 is not 1.0; NaN is NaN; -0.0 is not 0.0)."""
    return repr(a) == repr(b) and type(a) is type(b)


PLAN = {
    "org_code": "6340101", "fiscal_year": 2569, "plan_id": "6340101-2566-2570", "project_code": "P0000123",
    "title": "โครงการก่อสร้างถนนคอนกรีตเสริมเหล็ก หมู่ที่ 3 \"บ้านหนองบัว\"\nช่วงที่ ๒", "objective": "เพื่อการสัญจร",
    "budget_by_year": [{"fiscal_year": 2569, "amount": Decimal("100123.00")}, {"fiscal_year": 2570, "amount": "0.00"}],
    "links": {"local_programme": "แผนงานเคหะและชุมชน"}, "announced_on": date(2026, 1, 31), "tags": ["🚧", "\t", ""],
    "count": -9223372036854775808, "largest": 18446744073709551615, "share": 0.125, "tiny": 5e-324, "none": None,
    "yes": True, "no": False, "nested": [[[], {}], {"a": {"b": [1, 2.5, -0.0, 1e300]}}],
}  # fmt: skip

STORED = [
    body_text(PLAN),  # what the hub writes (orjson)
    dumps(PLAN),  # what the store writes elsewhere (json)
    json.dumps(PLAN, default=str),  # ASCII escapes, spaces after separators
    json.dumps(PLAN, default=str, indent=2),
]

# Where orjson alone would not give json's values: each must come out as json.loads reads it.
PARTING = [
    "123456789012345678901234567890",  # past 64 bits: orjson gives a float
    "-9223372036854775809",
    "18446744073709551616",
    '{"id": 99999999999999999999, "name": "x"}',
    body_text({**PLAN, "citizen_count": 10**30}),  # orjson cannot write it: the hub's writer falls back to json
    "[NaN, Infinity, -Infinity]",
    "1e400",
    "-1e400",
    '"\\ud800"',  # an escaped lone surrogate
    '"\ud800"',  # a lone surrogate in the text itself
    '{"a": 1, "a": 2}',
    '"1234567890123456789012345"',  # a long digit run in a string: json reads it, the same value
    "0.12345678901234567890123",
]


@pytest.mark.parametrize("text", STORED + PARTING)
def test_loads_gives_what_json_loads_gives(text: str) -> None:
    assert same(loads(text), json.loads(text))


@pytest.mark.parametrize("text", STORED)
def test_loads_reads_bytes_as_text(text: str) -> None:
    assert same(loads(text.encode()), json.loads(text))


def test_floats_and_integers_read_alike() -> None:
    """Numbers written every way a double's repr, a decimal fraction or an exponent writes them."""
    rng = random.Random(13)
    numbers: list[str] = []
    while len(numbers) < 20_000:
        kind = rng.random()
        if kind < 0.4:
            value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
            if value != value or value in (float("inf"), float("-inf")):
                continue
            numbers.append(repr(value))
        elif kind < 0.7:
            numbers.append(f"{rng.randint(0, 10 ** rng.randint(1, 22))}.{rng.randint(0, 10 ** rng.randint(1, 22))}")
        elif kind < 0.85:
            numbers.append(f"{'-' if rng.random() < 0.5 else ''}{rng.randint(0, 2 ** rng.randint(1, 70))}")
        else:
            numbers.append(f"{rng.randint(1, 10**17)}e{rng.randint(-340, 320)}")
    for number in numbers:
        assert same(loads(number), json.loads(number)), number
    # Most of them are short enough for orjson to read: the comparison above is mostly of orjson's reading.
    assert sum(len(n.lstrip("-").split(".")[0].split("e")[0]) < 19 for n in numbers) > 10_000


def test_none_is_none_and_bad_json_is_refused_as_json_refuses_it() -> None:
    assert loads(None) is None
    for text in ["", "{", "[1,]", "{'a': 1}", '"\x01"']:
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        with pytest.raises(json.JSONDecodeError):
            loads(text)
