"""SOLA (DLA): a source of local projects and a destination for them, served by the declared REST engine.

SOLA's interface is not public, so the plugin is configuration over a generic engine (`declared.py`):
`transport.yaml` says where and how, the mapping file says what. See README.md for replacing both once
the real format is known.
"""

from __future__ import annotations

from pathlib import Path


from plugins.sola import converters
from plugins.sola.declared import DeclaredRestSystem
from prasan import Registrar, hookimpl

HERE = Path(__file__).parent


class Sola(DeclaredRestSystem):
    name = "sola"
    title = "SOLA: ระบบข้อมูลโครงการขององค์กรปกครองส่วนท้องถิ่น (กรมส่งเสริมการปกครองท้องถิ่น)"
    label = "SOLA"
    owner_agency = "กรมส่งเสริมการปกครองท้องถิ่น (DLA)"
    simulator_module = "plugins.sola.simulator"
    version = "1"
    transport_file = HERE / "transport.yaml"


@hookimpl
def prasan_register(register: Registrar) -> None:
    register.add_system(Sola)
    register.add_converter("known_org", converters.KnownOrgArgs, converters.known_org, needs_reference=True)
    register.add_code_list(HERE / "codelists" / "funding-source.yaml")
