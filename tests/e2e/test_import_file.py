"""`prasan import SYSTEM FILE` on a real database (SQLite and PostgreSQL): a large ผ.02 CSV in bounded
memory in a child process, rejects files corrected and imported again, XLSX (e-Plan, a GF-MIS NFMA46
report) and JSON lines (e-budgeting), unreadable rows isolated, unreadable files refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from benchmarks.import_file import (
    BAD_AMOUNT,
    GOOD_AMOUNT,
    HEADER,
    organisations,
    p02_row,
    run_import,
    summary_of,
    write_p02_csv,
)
from core.store import Store
from prasan.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "plugins"
# The bound the import must keep whatever the file's size (the hub itself takes ~120 MB).
RSS_LIMIT_MB = 300


def _numbers(out: str) -> dict[str, int]:
    summary = summary_of(out)
    return {k: int(v) for k, v in summary.items() if v.isdigit()}


def _adds_up(n: dict[str, int]) -> None:
    assert n["rows read"] == n["accepted"] + n["rejected"] + n["skipped"]


@pytest.fixture
def hub_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PRASAN_DATABASE_URL", database_url)
    monkeypatch.setenv("PRASAN_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("PRASAN_CONFIG_DIR", raising=False)
    monkeypatch.delenv("PRASAN_CONFIG", raising=False)
    # GF-MIS has no default URL; the import never calls it, but the system is only built when configured.
    monkeypatch.setenv("PRASAN_SYSTEMS__GFMIS__BASE_URL", "http://127.0.0.1:9")
    return database_url


def _import(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, int], str]:
    code = main(["import", *args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, _numbers(out), err


def test_a_large_csv_stays_in_bounded_memory_and_its_rejects_import_once_corrected(
    database_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "p02.csv"
    rows, bad = write_p02_csv(file, 20_000_000, organisations(), bad_every=1000)
    assert file.stat().st_size >= 20_000_000 and bad == rows // 1000

    code, out, err, peak_mb = run_import(file, database_url, tmp_path)
    assert code == 0, err[-2000:]
    assert peak_mb < RSS_LIMIT_MB, f"the import process peaked at {peak_mb} MB"
    n = _numbers(out)
    assert n["rows read"] == rows and n["rejected"] == bad and n["skipped"] == 0
    assert n["accepted"] == rows - bad == n["changed"] == n["entities"]
    assert n["messages"] == -(-rows // 1000)
    # The progress bar (rows, rows per second, rejects) and each reject's field, value and rule.
    assert "rows/s" in err and "rejects" in err and "money.separator" in err

    rejects = file.with_name("p02.rejects.csv")
    assert summary_of(out)["rejects file"] == str(rejects)
    text = rejects.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == ",".join([*HEADER, "reason"])
    assert len(lines) == bad + 1 and all("งบประมาณ 2568 = '12,34,5': money.separator" in line for line in lines[1:])

    rejects.write_text(text.replace(BAD_AMOUNT, GOOD_AMOUNT), encoding="utf-8-sig")
    code, out, err, _ = run_import(rejects, database_url, tmp_path, "--no-progress")
    assert code == 0, err[-2000:]
    n = _numbers(out)
    assert n["rows read"] == bad and n["rejected"] == 0 and n["accepted"] == bad == n["changed"]
    assert summary_of(out)["rejects file"] == "none"

    store = Store(database_url)
    try:
        entities = store.entities.search_entities(entity_type="plan_project", limit=1)
        assert entities
    finally:
        store.dispose()


def test_reimport_changes_nothing_and_tis620_is_read(hub_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orgs = organisations()
    file = tmp_path / "p02_tis620.csv"
    with file.open("w", encoding="tis-620", newline="") as out:
        import csv

        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(p02_row(i, orgs, bad=i == 5) for i in range(30))
        writer.writerow(["รวม", "", "", "", "", "", "", "3,000,000", "", "", ""])  # a total line: skipped
    code, n, err = _import(capsys, "eplan", str(file), "--charset", "tis-620", "--chunk-rows", "7")
    assert code == 0, err
    assert (n["rows read"], n["accepted"], n["rejected"], n["skipped"], n["changed"]) == (31, 29, 1, 1, 29)
    _adds_up(n)
    rejects = tmp_path / "p02_tis620.rejects.csv"
    assert "money.separator" in rejects.read_text(encoding="tis-620")

    code, n, err = _import(capsys, "eplan", str(file), "--charset", "tis-620", "--chunk-rows", "7")
    assert code == 0 and n["accepted"] == 29 and n["changed"] == 0 and n["rejected"] == 1

    # Without the charset the bytes are not UTF-8: the file is refused by name, nothing half-read.
    code, n, err = _import(capsys, "eplan", str(file))
    assert code == 1 and "payload.encoding" in err and "--charset tis-620" in err


def test_xlsx_for_eplan_rejects_as_xlsx_and_corrected(hub_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orgs = organisations()
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(12):
        sheet.append(p02_row(i, orgs, bad=i in (3, 9), run="x"))
    file = tmp_path / "p02.xlsx"
    book.save(file)
    code, n, err = _import(capsys, "eplan", str(file), "--chunk-rows", "5")
    assert code == 0, err
    assert (n["rows read"], n["accepted"], n["rejected"], n["messages"]) == (12, 10, 2, 3)

    rejects = tmp_path / "p02.rejects.xlsx"
    sheet = load_workbook(rejects).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == [*HEADER, "reason"] and len(rows) == 3
    assert all("money.separator" in row[-1] for row in rows[1:])
    book = load_workbook(rejects)
    for row in book.active.iter_rows(min_row=2):
        for cell in row:
            if cell.value == BAD_AMOUNT:
                cell.value = GOOD_AMOUNT
    book.save(rejects)
    code, n, err = _import(capsys, "eplan", str(rejects))
    assert code == 0 and (n["accepted"], n["rejected"], n["changed"]) == (2, 0, 2)


def test_gfmis_nfma46_report_keeps_its_title_lines_in_every_chunk(
    hub_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "nfma46.xlsx"
    file.write_bytes((SAMPLES / "gfmis" / "samples" / "nfma46.xlsx").read_bytes())
    # One row per chunk: each chunk needs the report's agency and year lines above its header.
    code, n, err = _import(capsys, "gfmis", str(file), "--chunk-rows", "1")
    assert code == 0, err
    assert (n["rows read"], n["accepted"], n["rejected"], n["skipped"]) == (4, 3, 0, 1)  # the รวม line
    store = Store(hub_env)
    try:
        found = store.entities.search_entities(entity_type="budget_line", limit=10)
        assert len(found) == 3 and {e.fiscal_year for e in found} == {2568}
    finally:
        store.dispose()


def test_json_lines_for_ebudget(hub_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = (SAMPLES / "ebudget" / "samples" / "bbgfproject_2568.jsonl").read_text(encoding="utf-8")
    good = [line for line in sample.splitlines() if line.strip()]
    broken = good[0][:-1]  # an unclosed object
    bad_amount = re.sub(r'"amount": [0-9.]+', f'"amount": "{BAD_AMOUNT}"', good[2])
    assert bad_amount != good[2]
    file = tmp_path / "bbgf.jsonl"
    file.write_text("\n".join([*good[:2], broken, "", bad_amount, *good[3:]]) + "\n", encoding="utf-8")
    code, n, err = _import(capsys, "ebudget", str(file), "--chunk-rows", "2")
    assert code == 0, err
    assert (n["rows read"], n["rejected"], n["accepted"]) == (len(good) + 1, 2, len(good) - 1)
    _adds_up(n)
    lines = (tmp_path / "bbgf.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == broken  # not JSON: kept exactly as it was (its reason is printed)
    assert "json.syntax" in err or "json" in err
    rejected = json.loads(lines[1])
    assert "money" in rejected["reason"] and BAD_AMOUNT in rejected["reason"]
    # Corrected: the broken line replaced by the line it should have been, the amount fixed; the
    # importer's own "reason" key is dropped again.
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text(good[0] + "\n" + lines[1].replace(f'"{BAD_AMOUNT}"', "1500000.75") + "\n", encoding="utf-8")
    code, n, err = _import(capsys, "ebudget", str(fixed))
    assert code == 0 and (n["accepted"], n["rejected"]) == (2, 0), err
    code, n, err = _import(capsys, "ebudget", str(file), "--chunk-rows", "2")
    assert n["changed"] == 0 and n["accepted"] == len(good) - 1


def test_unreadable_rows_are_isolated_and_an_unreadable_file_is_refused(
    hub_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orgs = organisations()
    import csv

    file = tmp_path / "p02.csv"
    with file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(20):
            writer.writerow([*p02_row(i, orgs, run="u"), *(["extra"] if i == 13 else [])])
    code, n, err = _import(capsys, "eplan", str(file))
    assert code == 0, err
    assert (n["rows read"], n["accepted"], n["rejected"]) == (20, 19, 1)
    assert "csv.columns" in (tmp_path / "p02.rejects.csv").read_text(encoding="utf-8-sig")
    store = Store(hub_env)
    try:
        failed = store.inbox.list_messages(system="eplan", outcome="failed")
        assert len(failed) == 1  # the row alone, kept for replay
    finally:
        store.dispose()

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    code, n, err = _import(capsys, "eplan", str(wrong))
    assert code == 1 and "eplan.header_missing" in err
    assert not (tmp_path / "wrong.rejects.csv").exists()

    code, n, err = _import(capsys, "eplan", str(file), "--entity-type", "nothing")
    assert code == 1 and "entity.unknown_type" in err


def test_entity_type_imports_only_that_type(
    hub_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRASAN_SYSTEMS__EGP__API_KEY", "not-used-by-an-import")
    file = tmp_path / "egp.csv"
    file.write_bytes((SAMPLES / "egp" / "samples" / "egp_contracts_utf8.csv").read_bytes())
    code, n, err = _import(capsys, "egp", str(file), "--entity-type", "contract")
    assert code == 0, err
    store = Store(hub_env)
    try:
        assert not store.entities.search_entities(entity_type="procurement")
        contracts = len(store.entities.search_entities(entity_type="contract"))
        assert contracts == n["entities"] > 0
        code, n, err = _import(capsys, "egp", str(file))
        assert code == 0 and store.entities.search_entities(entity_type="procurement")
        assert len(store.entities.search_entities(entity_type="contract")) == contracts  # unchanged, not again
    finally:
        store.dispose()
