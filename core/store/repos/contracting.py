"""The contracting repository: e-GP procurements with their contracts and linked plan, read for the OCDS
export (core/ocds.py)."""

from __future__ import annotations

from sqlalchemy import Connection

from core.ocds import Process
from core.store import contracting as _contracting
from core.store.database import Database


class ContractingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def of_organisation(self, org_code: str, fiscal_year: int | None = None, *, limit: int = 50, offset: int = 0) -> list[Process]:
        """A page of the organisation's processes, by e-GP project number."""

        def work(conn: Connection) -> list[Process]:
            return _contracting.processes(conn, _contracting.procurement_ids(conn, org_code, fiscal_year, limit, offset))

        return self.db.read(work)

    def by_number(self, egp_project_number: str) -> Process | None:
        def work(conn: Connection) -> Process | None:
            found = _contracting.procurement_id(conn, egp_project_number)
            return next(iter(_contracting.processes(conn, [found])), None) if found else None

        return self.db.read(work)
