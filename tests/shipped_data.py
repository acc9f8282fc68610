"""Real public data shipped with the repository, for tests that must run on any clone."""

from __future__ import annotations

import json
import lzma
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BB_SAMPLE = REPO / "tests" / "data" / "bb_grant_projects_2559.jsonl.xz"
LAO_REGISTRY = REPO / "config" / "masterdata" / "lao_registry.csv"


@cache
def _bb_sample_text() -> str:
    return lzma.decompress(BB_SAMPLE.read_bytes()).decode("utf-8")


def bb_sample_rows() -> list[dict[str, Any]]:
    """A fresh list of the 7,480 FY 2559 budget items (callers may modify their copy)."""
    return [json.loads(line) for line in _bb_sample_text().splitlines() if line.strip()]
