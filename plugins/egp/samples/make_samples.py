"""Regenerate the e-GP sample files in this folder from the simulator's seed, so that the samples and the
simulator describe the same projects: the open-data CSV (UTF-8 with BOM, and TIS-620), the CGDCONTRACT
JSON answer and one announcement feed (Windows-874). Run: `python -m plugins.egp.samples.make_samples`.

The organisations are real (the DLA registry); the projects, contractors and tax ids are made up, with
valid check digits. The CSV is written the way the open-data files are: abbreviated Thai months with a
2-digit BE year, amounts with thousands separators, and the first contract number in Thai digits.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

from plugins.egp import headers as h
from plugins.egp.simulator import SEED_ANNOUNCEMENTS, SEED_PROJECTS, dumps, rss
from prasan.canonical import format_thai_date, to_thai_digits

HERE = Path(__file__).parent


def _day(be_iso: str) -> str:
    year, month, day = (int(part) for part in be_iso.split("-"))
    return format_thai_date(date(year - 543, month, day), "abbr_2digit")


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def rows() -> list[dict[str, str]]:
    out = []
    for project in SEED_PROJECTS:
        for contract in project["contract"]:
            number = contract["contract_no"]
            out.append({
                h.SEQ: str(len(out) + 1), h.PROJECT: project["project_id"], h.TITLE: project["project_name"],
                h.TYPE: project["project_type_name"], h.DEPT: project["dept_name"], h.UNIT: project["dept_sub_name"],
                h.UNIT_CODE: project["dept_code"], h.METHOD: project["purchase_method_name"],
                h.METHOD_GROUP: project["purchase_method_name"], h.ANNOUNCED: _day(project["announce_date"]),
                h.BUDGET: _amount(project["project_money"]), h.REFERENCE_PRICE: _amount(project["price_build"]),
                h.AGREED: _amount(project["sum_price_agree"]), h.YEAR: project["budget_year"],
                h.TRANSACTION: _day(project["transaction_date"]), h.PROVINCE: project["province"],
                h.WINNER: contract["winner"], h.TAX_ID: contract["winner_tin"],
                h.CONTRACT_NO: to_thai_digits(number) if number.startswith("กจด") else number,
                h.SIGNED: _day(contract["contract_date"]), h.ENDS: _day(contract["contract_finish_date"]),
                h.CONTRACT_AMOUNT: _amount(contract["contract_price_agree"]), h.CONTRACT_STATUS: contract["status"],
            })  # fmt: skip
    return out


def csv_text() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(h.COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows())
    return out.getvalue()


def main() -> None:
    text = csv_text()
    (HERE / "egp_contracts_utf8.csv").write_bytes(text.encode("utf-8-sig"))
    (HERE / "egp_contracts_tis620.csv").write_bytes(text.encode("tis-620"))
    (HERE / "cgdcontract.json").write_text(dumps({"result": SEED_PROJECTS}) + "\n", encoding="utf-8")
    feed = [item for item in SEED_ANNOUNCEMENTS if item["deptsubId"] == "5810401"]
    (HERE / "announcements_5810401.xml").write_bytes(rss(feed, "ประกาศ e-GP 5810401"))


if __name__ == "__main__":
    main()
