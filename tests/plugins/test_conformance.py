"""The built-in plugins pass the same conformance kit that third-party plugins use."""

from __future__ import annotations

from pathlib import Path

from plugins.elaas import Elaas
from tests.plugins.test_elaas import BUDGET_LINE
from prasan.testing import PluginConformance, Sample

SAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "eplan" / "samples"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TestEplanConformance(PluginConformance):
    system = "eplan"  # by name, through the entry points
    samples = [
        Sample((SAMPLES / "p02_utf8_bom.csv").read_bytes(), "text/csv", "utf-8"),
        Sample((SAMPLES / "p02_tis620.csv").read_bytes(), "text/csv", "tis-620"),
        Sample((SAMPLES / "p02.json").read_bytes(), "application/json"),
        Sample((SAMPLES / "p02.xlsx").read_bytes(), XLSX),
    ]


class TestElaasConformance(PluginConformance):
    system = Elaas  # by class: the registry's own e-LAAS, with the converters its plugin registers
    entities = [
        (
            "plan_project",
            {
                "entity_type": "plan_project",
                "org_code": "5400103",
                "title": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก",
                "budget_by_year": [{"fiscal_year": 2568, "amount": "1200000.00"}],
                "links": {"local_programme": "อุตสาหกรรมและการโยธา"},
            },
        ),
        ("budget_line", BUDGET_LINE),
    ]
