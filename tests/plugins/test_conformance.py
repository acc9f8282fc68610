"""The built-in plugins pass the same conformance kit that third-party plugins use."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from plugins.elaas import simulator as elaas_simulator
from prasan.testing import PluginConformance, Sample

SAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "eplan" / "samples"


class TestEplanConformance(PluginConformance):
    system = "eplan"
    samples = [
        Sample((SAMPLES / "p02_utf8_bom.csv").read_bytes(), "text/csv", "utf-8"),
        Sample((SAMPLES / "p02_tis620.csv").read_bytes(), "text/csv", "tis-620"),
        Sample((SAMPLES / "p02.json").read_bytes(), "application/json"),
        Sample(
            (SAMPLES / "p02.xlsx").read_bytes(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ]


class TestElaasConformance(PluginConformance):
    system = "elaas"
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
        )
    ]

    def simulator_app(self) -> web.Application:
        return elaas_simulator.create_app()

    def settings_for(self, plugin, base_url):  # e-LAAS also needs its API key
        return {"base_url": base_url, "api_key": elaas_simulator.DEFAULT_API_KEY}
