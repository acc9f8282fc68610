"""Writes the SOLA samples: the simulator's projects as pushed JSON (UTF-8) and CSV (TIS-620).

    .venv/bin/python -m plugins.sola.samples.make_samples

The values are made up but realistic (real DLA organisation codes, the local แผนงาน names); every third
record is typed the Thai way (Thai digits, "บาท", "-"), as the simulator serves it, so that the samples
carry the same quirks the plugin must read.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from plugins.sola.simulator import SEED_PROJECTS, typed

HERE = Path(__file__).parent


def projects() -> list[dict[str, str]]:
    return [typed(p) if n % 3 == 0 else dict(p) for n, p in enumerate(SEED_PROJECTS, start=1)]


def main() -> None:
    rows = projects()
    page = {"data": {"items": rows}}
    (HERE / "local_projects.json").write_text(json.dumps(page, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (HERE / "local_projects_tis620.csv").write_bytes(out.getvalue().encode("tis-620"))


if __name__ == "__main__":
    main()
