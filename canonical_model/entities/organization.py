"""Organisations: local administrative organisations (อปท.) and central agencies."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from canonical_model.codes import DopaDistrict, DopaProvince, DopaSubdistrict
from canonical_model.entities.common import Latitude, Longitude
from canonical_model.envelope import Entity
from canonical_model.thai_text import Name

# The kinds of local administrative organisation (อปท.), the ones a DLA code names.
LocalOrgType = Literal[
    "provincial_admin_org",
    "city_municipality",
    "town_municipality",
    "subdistrict_municipality",
    "subdistrict_admin_org",
    "special_admin_area",
]
OrgType = Literal[LocalOrgType, "central_agency"]


class Organization(Entity):
    entity_type: Literal["organization"] = "organization"
    scheme: Literal["dla-lao", "bb-agency"] = "dla-lao"
    name_th: Name
    org_type: OrgType
    province_code: DopaProvince | None = None
    district_code: DopaDistrict | None = None
    subdistrict_codes: list[DopaSubdistrict] = Field(default_factory=list)
    lat: Latitude | None = None
    lon: Longitude | None = None
    area_km2: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
