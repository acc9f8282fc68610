"""Reading native payloads: encodings, strict JSON, CSV and XLSX, and the limits that keep the hub up."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from core import payloads
from core.payloads import PayloadError, decode, fold_headers, loads_strict_json, require_columns, tabular_records
from core.settings import HubSettings, PayloadLimits

THAI_CSV = "รหัส อปท.,ชื่อโครงการ\n5400103,ก่อสร้างถนน\n"


def rule_of(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(PayloadError) as caught:
        call(*args)
    assert caught.value.reason
    return caught.value.rule


def test_tis620_and_cp874_decode_when_declared() -> None:
    assert decode(THAI_CSV.encode("tis-620"), "TIS-620") == THAI_CSV
    assert decode(THAI_CSV.encode("cp874"), "windows-874") == THAI_CSV
    assert decode(b"\xef\xbb\xbf" + THAI_CSV.encode(), None) == THAI_CSV  # the BOM of Excel exports


def test_undeclared_tis620_is_refused_with_a_hint_not_guessed() -> None:
    with pytest.raises(PayloadError) as caught:
        decode(THAI_CSV.encode("tis-620"), None)
    assert caught.value.rule == "payload.encoding" and "charset=tis-620" in caught.value.reason


@pytest.mark.parametrize("charset", ["utf-7", "utf-16", "latin-1", "no-such-codec"])
def test_other_charsets_are_refused(charset: str) -> None:
    assert rule_of(decode, b"abc", charset) == "payload.charset_unsupported"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('{"a": NaN}', "json.non_finite"),
        ('{"a": -Infinity}', "json.non_finite"),
        ('{"a": 1, "a": 2}', "json.duplicate_key"),
        ('{"a": "\\ud800"}', "json.lone_surrogate"),
        ("[" * 100 + "]" * 100, "json.too_deep"),
        ('{"a": ' + "9" * 5000 + "}", "json.number_too_large"),
        ('{"a": 1', "json.syntax"),
    ],
)
def test_strict_json_refuses(text: str, rule: str) -> None:
    assert rule_of(loads_strict_json, text) == rule


def test_json_fractions_are_decimals_never_floats() -> None:
    value = loads_strict_json('{"amount": 1200000.10, "count": 3}')
    assert value == {"amount": Decimal("1200000.10"), "count": 3}
    assert isinstance(value["amount"], Decimal)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a,b\n1,2,3\n", "csv.columns"),
        ('a,b\n1,"2\n3,4', "csv.syntax"),
        ("a,a\n1,2\n", "csv.header"),
        ("a,b\n", "payload.no_records"),
    ],
)
def test_broken_csv_is_refused_as_a_whole(text: str, rule: str) -> None:
    assert rule_of(tabular_records, text.encode(), "text/csv", "utf-8") == rule


def test_row_limits_apply_to_every_format() -> None:
    limits = PayloadLimits(max_records=2, max_rows_scanned=10)
    for payload, media_type in ((b"a\n1\n2\n3\n", "text/csv"), (b'[{"a":1},{"a":2},{"a":3}]', "application/json")):
        with pytest.raises(PayloadError) as caught:
            tabular_records(payload, media_type, None, limits)
        assert caught.value.rule == "payload.too_many_rows" and caught.value.status == 413
        assert "limits.max_records = 2 " in caught.value.reason
    assert len(tabular_records(b"a\n1\n2\n", "text/csv", None, limits)) == 2


def test_default_limits_come_from_the_settings_model() -> None:
    assert payloads.DEFAULT_LIMITS == PayloadLimits() == HubSettings().limits
    assert PayloadLimits().max_records == 50_000 and PayloadLimits().max_rows_scanned >= 2 * 50_000
    with pytest.raises(ValueError, match="max_rows_scanned"):
        PayloadLimits(max_records=10, max_rows_scanned=10)


def test_malformed_payloads_keep_their_status_and_limits_get_413() -> None:
    assert PayloadError("csv.syntax", "x").status == 400
    assert PayloadError("payload.media_type", "x").status == 415
    with pytest.raises(PayloadError) as caught:
        tabular_records(b"a\n1\n", "application/pdf", None)
    assert caught.value.status == 415


def test_xlsx_numbers_arrive_as_exact_text() -> None:
    workbook = Workbook()
    workbook.active.append(["รหัส อปท.", "งบประมาณ 2566"])
    workbook.active.append(["5400103", 1200000.1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    [row] = tabular_records(buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", None)
    assert row == {"รหัส อปท.": "5400103", "งบประมาณ 2566": "1200000.1"}


def test_empty_formatted_rows_below_the_data_are_skipped_but_counted() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["รหัส อปท.", "ชื่อโครงการ"])
    sheet.append(["5400103", "ถนน"])
    sheet.cell(row=60, column=2).number_format = "0.00"  # formatted, but empty
    sheet.cell(row=61, column=1, value="")
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = tabular_records(buffer.getvalue(), xlsx, None, PayloadLimits(max_records=5, max_rows_scanned=61))
    assert rows == [{"รหัส อปท.": "5400103", "ชื่อโครงการ": "ถนน"}]
    with pytest.raises(PayloadError) as caught:  # the empty rows count against max_rows_scanned
        tabular_records(buffer.getvalue(), xlsx, None, PayloadLimits(max_records=5, max_rows_scanned=59))
    assert caught.value.rule == "payload.too_many_rows_scanned" and "= 59 rows" in caught.value.reason


def test_fold_headers_keeps_the_filled_one_of_two_names_for_a_field() -> None:
    fold = {"รหัส อปท.": "org_code", "org code": "org_code", "ชื่อโครงการ": "title"}.get
    row = {"รหัส อปท.": "", "org code": "5400103", "ชื่อโครงการ": "ถนน", "อื่น": 1}
    assert fold_headers(row, lambda key: fold(key, key), "test.header_repeated") == {
        "org_code": "5400103", "title": "ถนน", "อื่น": 1,
    }
    both = {"รหัส อปท.": "5400103", "org code": "5400104"}
    with pytest.raises(PayloadError) as caught:
        fold_headers(both, lambda key: fold(key, key), "test.header_repeated", fields="fields")
    assert caught.value.rule == "test.header_repeated"
    assert caught.value.reason == "two fields both mean 'org_code'"


def test_require_columns_names_what_is_missing_and_what_was_found() -> None:
    rows = [{"a": 1, "b": 2}, {"c": 3}]
    assert require_columns(rows, ("a", "c"), "t.header_missing", "the table has no column") == {"a", "b", "c"}
    with pytest.raises(PayloadError) as caught:
        require_columns(rows, ("a", "x", "y"), "t.header_missing", "the table has no column")
    assert caught.value.rule == "t.header_missing"
    assert caught.value.reason == "the table has no column x, y (found: a, b, c)"
    with pytest.raises(PayloadError, match=r"^the table has no column a \(found: \)$"):
        require_columns([], ("a",), "t.header_missing", "the table has no column")
