"""Producer scope: which organisations an API client may write for.

A client lists organisation codes, DOPA provinces, or both (either admits a record); with neither it
may write for every organisation, which `prasan demo` and clients added with `--all-orgs` use. An
organisation code that does not exist never reaches this check: it is a row rejection already.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from canonical_model import normalize_code
from core.store.records import ApiClient, IncomingEntity

EVERY_ORGANISATION: None = None  # the value of allowed_orgs and allowed_provinces for an unrestricted client


class ScopeViolation(Exception):
    """A request carried records of organisations outside its client's scope; refused as a whole (403)."""

    def __init__(self, client_name: str, org_codes: list[str], message_id: str) -> None:
        shown = ", ".join(org_codes[:10]) + (" ..." if len(org_codes) > 10 else "")
        super().__init__(f"client {client_name!r} may not write for organisation(s) {shown}")
        self.client_name = client_name
        self.org_codes = org_codes
        self.message_id = message_id


class ProducerScope:
    def __init__(self, client: ApiClient, organizations: Mapping[str, Mapping[str, Any]]) -> None:
        self.client = client
        # Codes as an operator typed them may carry Thai digits or spaces; records arrive canonical.
        self._orgs = {normalize_code(code) for code in client.allowed_orgs or ()}
        self._provinces = set(client.allowed_provinces or ())
        self._organizations = organizations

    def admits(self, org_code: str | None) -> bool:
        if self.client.writes_every_org:
            return True
        if org_code is None:
            return False
        if org_code in self._orgs:
            return True
        org = self._organizations.get(org_code) or {}
        return org.get("province_code") in self._provinces

    def outside(self, entities: Iterable[IncomingEntity]) -> list[IncomingEntity]:
        return [entity for entity in entities if not self.admits(entity.org_code)]
