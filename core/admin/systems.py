"""A system's URL changed at run time: only to an origin on `destination_url_allowlist`, stored as a
config override (kind "system_url") and applied to the settings the delivery workers read."""

from __future__ import annotations

from typing import Any

from core.admin.allowlist import check_url

KIND = "system_url"


class SystemUrls:
    def __init__(self, store: Any, settings: Any) -> None:
        self.store = store
        self.settings = settings

    def load(self) -> None:
        for override in self.store.overrides(KIND):
            self.settings.systems.setdefault(override.name, {})["base_url"] = override.value["base_url"]

    def current(self, system: str) -> str | None:
        return self.settings.systems.get(system, {}).get("base_url")

    def set(self, system: str, base_url: str, actor: str) -> str:
        check_url(base_url, self.settings.destination_url_allowlist)
        before = self.current(system)
        self.store.put_override(
            KIND, system, {"base_url": base_url}, actor=actor, action="system.set_url", before={"base_url": before}
        )
        # The workers look the settings up per batch, so the next batch goes to the new URL.
        self.settings.systems.setdefault(system, {})["base_url"] = base_url
        return base_url
