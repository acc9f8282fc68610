"""e-LAAS (DLA local accounting, laas.go.th): the destination of budget lines in the local classification.

Writes budget expense documents whose classification is given as e-LAAS master-data GUIDs
(codelists/guids.yaml), with the delivery key as Idempotency-Key. New records go in one batch call;
a record e-LAAS already holds is replaced in place (PUT), so a new version never doubles the budget.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cached_property
from typing import Any
from urllib.parse import quote


from plugins.elaas import converters, mapper
from plugins.elaas.settings import ElaasSettings
from prasan import (
    Health,
    HttpAnswer,
    Registrar,
    Rejected,
    RestSystem,
    Retryable,
    TransientError,
    WriteItem,
    WriteResult,
    hookimpl,
)

DOCUMENTS = "/api/BudgetExpense"
# Updates go one request each (the batch endpoint only creates); a few at a time keeps a batch of
# updates within the write timeout without flooding e-LAAS.
UPDATE_CONCURRENCY = 8


class Elaas(RestSystem):
    name = "elaas"
    title = "e-LAAS: ระบบบัญชีคอมพิวเตอร์ขององค์กรปกครองส่วนท้องถิ่น"
    label = "e-LAAS"
    owner_agency = "กรมส่งเสริมการปกครองท้องถิ่น (DLA)"
    simulator_module = "plugins.elaas.simulator"
    Settings = ElaasSettings
    writes = ("plan_project", "budget_line")
    write_batch_size = 500
    write_timeout_s = 30.0

    settings: ElaasSettings

    @cached_property
    def mappings(self) -> mapper.Mappings:
        return {entity_type: self.context.load_mapping(path) for entity_type, path in mapper.MAPPING_FILES.items()}

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        return mapper.map_out(self.mappings, entity_type, entity, self.reference)

    def message_of(self, answer: HttpAnswer) -> str:
        try:
            body = json.loads(answer.text)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("Message"):
            return str(body["Message"])[:500]
        return super().message_of(answer)

    def external_id_of(self, answer: HttpAnswer) -> str | None:
        try:
            body = json.loads(answer.text)
        except ValueError:
            return None
        d = body.get("d") if isinstance(body, dict) else None
        return str(d["RecordID"]) if isinstance(d, dict) and d.get("RecordID") else None

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        result = super().result_for(answer)
        if answer.status < 300 and getattr(result, "external_id", None) is None:
            return Retryable(f"e-LAAS answered {answer.status} without a RecordID")
        return result

    async def write_one(self, item: WriteItem) -> WriteResult:
        if not item.external_id:
            return await self.send("POST", DOCUMENTS, item)
        path = f"{DOCUMENTS}/{quote(item.external_id, safe='')}"
        try:
            answer = await self.request("PUT", path, json_body=item.native, idempotency_key=item.delivery_key)
        except TransientError as exc:
            return Retryable(exc.message, exc.retry_after)
        if answer.status == 404:
            # The record is gone from e-LAAS (deleted by hand, or a restored database): create it anew,
            # under a derived key, since e-LAAS remembers the 404 under the delivery key.
            fresh = dataclasses.replace(item, external_id=None, delivery_key=f"{item.delivery_key}:recreate")
            return await self.write_one(fresh)
        return self.result_for(answer)

    async def write_new(self, items: list[WriteItem]) -> list[WriteResult]:
        """All new records in one call to the batch endpoint; each still carries its idempotency key."""
        body = {"Items": [{"IdempotencyKey": item.delivery_key, "Document": item.native} for item in items]}
        try:
            answer = await self.request("POST", f"{DOCUMENTS}/Batch", json_body=body)
        except TransientError as exc:
            return [Retryable(exc.message, exc.retry_after) for _ in items]
        if answer.status >= 300:
            whole = self.result_for(answer)
            if isinstance(whole, Rejected):
                # A refusal of the whole batch may be caused by one record; write them one by one so
                # that it cannot take the good ones down with it (the keys make the second try harmless).
                return [await self.write_one(item) for item in items]
            return [whole for _ in items]
        results = json.loads(answer.text).get("d", {}).get("Results", [])
        if len(results) != len(items):
            return [Retryable(f"e-LAAS answered {len(results)} results for {len(items)} items") for _ in items]
        return [self._item_result(result) for result in results]

    def _item_result(self, result: dict[str, Any]) -> WriteResult:
        status = int(result.get("Status", 500))
        payload = {"d": {"RecordID": result["RecordID"]}} if result.get("RecordID") else {"Message": result.get("Message")}
        return self.result_for(HttpAnswer(status, {}, json.dumps(payload, ensure_ascii=False)))

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        """New records first, in one batch call; updates of records e-LAAS holds follow, a few at a time."""
        results: dict[int, WriteResult] = {}
        new = [(i, item) for i, item in enumerate(batch) if not item.external_id]
        if len(new) == 1:
            results[new[0][0]] = await self.write_one(new[0][1])
        elif new:
            for (i, _), result in zip(new, await self.write_new([item for _, item in new]), strict=True):
                results[i] = result
        updates = [(i, item) for i, item in enumerate(batch) if item.external_id]
        answers = await self.write_each([item for _, item in updates], self.write_one, UPDATE_CONCURRENCY)
        results.update({i: answer for (i, _), answer in zip(updates, answers, strict=True)})
        return [results[i] for i in range(len(batch))]

    async def healthcheck(self) -> Health:
        """The แผนงาน dropdown is the cheapest real page that proves the service and its master data are up."""
        try:
            answer = await self.request("GET", "/DropDownService.asmx/GetExpExpensePlan")
        except TransientError as exc:
            return Health(ok=False, detail=exc.message)
        if answer.status != 200:
            return Health(ok=False, detail=f"GetExpExpensePlan answered {answer.status}")
        count = answer.text.count("<DropdownData>")
        return Health(ok=count > 0, detail=f"{count} แผนงาน in the master data", extra={"plans": count})


@hookimpl
def prasan_register(register: Registrar) -> None:
    register.add_system(Elaas)
    register.add_converter("guid", converters.GuidArgs, converters.guid)
