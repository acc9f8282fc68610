"""The pluggy hook a plugin package answers: it registers its systems, converters and code lists.

Discovery stays pluggy's: a package names its module in the entry-point group `prasan.plugins`, and
the hub calls `prasan_register` once per plugin with a registrar of its own. Everything a system does
(parse, read, map in and out, write, health) is a method of the system object it registers
(`core.contract.AgencySystem`), called for that system alone; so there is one hook, and no
implementation ever has to ask "is this call mine?".

Change hooks by adding arguments only: pluggy lets an implementation take fewer arguments than its
specification, so older plugins keep working.
"""

from __future__ import annotations

import pluggy

from core.contract import Registrar

hookspec = pluggy.HookspecMarker("prasan")
hookimpl = pluggy.HookimplMarker("prasan")


@hookspec
def prasan_register(register: Registrar) -> None:
    """Register what this plugin provides.

    Called once per plugin when the plugin registry is built, before any setting is read: do no I/O.

    Args:
        register: the plugin's registrar. `register.add_system(cls)` provides an agency system (a
            subclass of `prasan.AgencySystem`); `register.add_converter(name, args, build)` contributes
            a mapping converter, known as `<plugin>.<name>`; `register.add_code_list(path)` contributes
            a code list, known as `<plugin>.<scheme>`. A system name or converter claimed twice is an
            error at start that names both plugins.

    Returns:
        Nothing; what counts is what was registered.
    """
