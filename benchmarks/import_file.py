"""`prasan import eplan FILE` of a generated ผ.02 CSV: peak resident memory of the import process
against the file's size, and its speed. Writes benchmarks/results/import_100mb.json.

    python -m benchmarks.import_file [--mb 100] [--database-url URL]

The peak is the child's own (VmHWM of /proc/<pid>/status, sampled while it runs), the import process alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "import_100mb.json"
HEADER = [
    "ที่", "รหัส อปท.", "ยุทธศาสตร์", "แผนงาน", "ชื่อโครงการ", "วัตถุประสงค์", "เป้าหมาย (ผลผลิตของโครงการ)",
    "งบประมาณ 2568", "งบประมาณ 2569", "ตัวชี้วัด (KPI)", "หน่วยงานรับผิดชอบหลัก",
]  # fmt: skip
PROGRAMMES = ["บริหารงานทั่วไป", "การศึกษา", "สาธารณสุข", "เคหะและชุมชน", "อุตสาหกรรมและการโยธา"]
# A row the hub must reject: thousands separators that do not group three digits (money.separator).
BAD_AMOUNT = "12,34,5"
GOOD_AMOUNT = "12,345"


def organisations() -> list[str]:
    from core.reference_data import load_reference_data

    return sorted(load_reference_data().organizations)


def p02_row(index: int, orgs: list[str], bad: bool = False, run: str = "") -> list[str]:
    """One ผ.02 row; Thai digits in every seventh amount, as exports have them."""
    amount = f"{100_000 + index:,}.00"
    if index % 7 == 0:
        amount = amount.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    return [
        str(index + 1),
        orgs[index % len(orgs)],
        "การพัฒนาโครงสร้างพื้นฐาน",
        PROGRAMMES[index % len(PROGRAMMES)],
        f"โครงการก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านหนองโข่ง หมู่ที่ {index % 20 + 1} หมายเลข {run}{index}",
        "เพื่อให้ประชาชนสัญจรได้สะดวก ปลอดภัย",
        "ถนน คสล. กว้าง 4 เมตร ยาว 300 เมตร",
        BAD_AMOUNT if bad else amount,
        f"{120_000 + index:,}.50",
        "ร้อยละ 80 ของผู้ใช้เส้นทางพึงพอใจ",
        "กองช่าง",
    ]


def write_p02_csv(path: Path, target_bytes: int, orgs: list[str], bad_every: int = 0, run: str = "") -> tuple[int, int]:
    """A UTF-8 ผ.02 CSV of about `target_bytes`, written as it is generated; (rows, bad rows)."""
    rows = bad = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        while file.tell() < target_bytes:
            for _ in range(1000):
                is_bad = bool(bad_every) and rows % bad_every == bad_every - 1
                writer.writerow(p02_row(rows, orgs, is_bad, run))
                rows += 1
                bad += is_bad
    return rows, bad


def run_import(
    file: Path, database_url: str, var_dir: Path, *extra: str, system: str = "eplan"
) -> tuple[int, str, str, float]:
    """`prasan import` in a child process: (exit code, stdout, stderr, peak RSS in MB of that child)."""
    env = {**os.environ, "PRASAN_DATABASE_URL": database_url, "PRASAN_VAR_DIR": str(var_dir)}
    env.pop("PRASAN_CONFIG_DIR", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "prasan.cli", "import", system, str(file), *extra],
            cwd=ROOT, env=env, stdout=out, stderr=err,
        )
        # The high-water mark of the program the child runs: ru_maxrss would also count the pages the child
        # shared with this (perhaps large) test process between fork and exec; VmHWM starts again at exec.
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, _vm_hwm_kb(child.pid))
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        return child.returncode, out.read().decode(), err.read().decode(), round(peak_kb / 1024, 1)


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):  # the process has just ended
        pass
    return 0


def summary_of(stdout: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in stdout.splitlines() if "\t" in line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    orgs = organisations()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        file = folder / "p02.csv"
        rows, bad = write_p02_csv(file, args.mb * 1_000_000, orgs, bad_every=1000)
        url = args.database_url or f"sqlite:///{folder / 'hub.db'}"
        started = time.perf_counter()
        code, out, err, peak = run_import(file, url, folder, "--no-progress")
        seconds = time.perf_counter() - started
        summary = summary_of(out)
        if summary.get("rejects file", "none") != "none":
            summary["rejects file"] = Path(summary["rejects file"]).name  # the temporary folder is gone
        result: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
            "database": url.split(":", 1)[0],
            "file_mb": round(file.stat().st_size / 1e6, 1),
            "rows": rows,
            "bad_rows": bad,
            "exit_code": code,
            "peak_rss_mb": peak,
            "limit_rss_mb": 300,
            "wall_seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds, 1),
            "summary": summary,
        }
        if code != 0:
            result["stderr"] = err[-2000:]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
