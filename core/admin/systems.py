"""A system's URL changed at run time: only to an origin on `destination_url_allowlist`, stored as a
config override (kind "system_url") and applied to the settings the delivery workers read.

Every hub process applies the stored URLs at start and again on each admin refresh, so a change made
through one process (or the CLI) reaches the others. A stored URL is checked against the allow-list
of the process applying it: one that is no longer allowed is not used (the configured URL is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from core.admin.allowlist import UrlNotAllowed, check_url

KIND = "system_url"
log = structlog.get_logger("prasan.admin.systems")


class SystemUrls:
    def __init__(self, store: Any, settings: Any, on_change: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.store = store
        self.settings = settings
        # Tells the running system its new settings (they are validated once, at start, otherwise).
        self.on_change = on_change
        # The configured URLs, restored when an override is gone or no longer allowed.
        self.baseline: dict[str, str | None] = {
            name: (config or {}).get("base_url") for name, config in settings.systems.items()
        }
        self._applied: dict[str, str | None] = {}

    def load(self) -> None:
        """Apply the stored URLs (blocking; call through a thread)."""
        wanted: dict[str, str | None] = {}  # None: stored but refused, so the configured URL applies
        for override in self.store.config.overrides(KIND):
            url = override.value.get("base_url") if isinstance(override.value, dict) else None
            try:
                if not isinstance(url, str):
                    raise UrlNotAllowed("the stored value has no base_url")
                check_url(url, self.settings.destination_url_allowlist)
            except UrlNotAllowed as exc:
                if self._applied.get(override.name, "") is not None:  # say so once, not on every refresh
                    log.error("system_url_override_refused", system=override.name, error=str(exc))
                wanted[override.name] = None
                continue
            wanted[override.name] = url
        if wanted == self._applied:
            return
        for system in set(self._applied) | set(wanted):
            url = wanted.get(system)
            self._apply(system, self.baseline.get(system) if url is None else url)
        self._applied = wanted

    def _apply(self, system: str, url: str | None) -> None:
        config = self.settings.systems.setdefault(system, {})
        if url is None:
            config.pop("base_url", None)
        else:
            config["base_url"] = url
        if self.on_change is not None:
            self.on_change(system, config)

    def current(self, system: str) -> str | None:
        return self.settings.systems.get(system, {}).get("base_url")

    def set(self, system: str, base_url: str, actor: str) -> str:
        check_url(base_url, self.settings.destination_url_allowlist)
        before = self.current(system)
        self.store.config.put_override(
            KIND, system, {"base_url": base_url}, actor=actor, action="system.set_url", before={"base_url": before}
        )
        # Applied to the running system at once, so the next batch goes to the new URL.
        self._apply(system, base_url)
        self._applied[system] = base_url
        return base_url
