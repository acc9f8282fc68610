"""A local development plan is revised (เพิ่มเติม, เปลี่ยนแปลง, แก้ไข): a project of a later edition is the
same project, stored as its next version with the edition it came from, and delivered again."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import documents_by_project

pytestmark = pytest.mark.e2e
HEADER = "รหัส อปท.,รหัสโครงการ,ชื่อโครงการ,แผนงาน,งบประมาณ 2568,ฉบับ\n"


def row(edition: str, amount: str) -> bytes:
    return (HEADER + f"5400103,5400103-2568-077,ขุดลอกคลองสาธารณะ,อุตสาหกรรมและการโยธา,\"{amount}\",{edition}\n").encode("utf-8")


async def test_a_changed_edition_is_the_next_version_of_the_same_project(running_hub: RunningHub) -> None:
    hub = running_hub
    status, first = await hub.post(row("ฉบับแรก", "450,000"), "text/csv; charset=utf-8")
    assert status == 202 and first["accepted"] == 1
    status, changed = await hub.post(row("เปลี่ยนแปลง ครั้งที่ ๑", "520,000"), "text/csv; charset=utf-8")
    assert status == 202
    [v1], [v2] = first["entities"], changed["entities"]
    assert v2["id"] == v1["id"] and (v1["version"], v2["version"]) == (1, 2) and v2["changed"]

    versions = await asyncio.to_thread(hub.hub.store.entities.entity_versions, v1["id"])
    assert [(v.payload["revision"]["kind"], v.payload["budget_by_year"][0]["amount"]) for v in versions] == [
        ("original", "450000.00"),
        ("change", "520000.00"),
    ]

    async def delivered_twice() -> bool:
        return await hub.settled() and len(await documents_by_project(hub)) == 1

    await hub.wait_until(delivered_twice, "both versions delivered to e-LAAS")
    [documents] = (await documents_by_project(hub)).values()
    # e-LAAS replaced its record with the new edition's amount instead of adding a second one.
    assert len(documents) == 1 and documents[0]["Lines"][0]["Amount"] == "520000.00"
