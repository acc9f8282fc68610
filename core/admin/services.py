"""The admin services of one hub, built with it: route management and system URLs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from core.admin.routes import RouteService
from core.admin.systems import SystemUrls
from core.classification import Classifications
from core.plugin_manager import PluginRegistry, Systems
from core.router import Router
from core.settings import HubSettings
from core.store import Store
from core.store.availability import database_unavailable

log = structlog.get_logger("prasan.admin")


class AdminServices:
    def __init__(
        self,
        store: Store,
        router: Router,
        registry: PluginRegistry,
        settings: HubSettings,
        systems: Systems,
        reconfigure: Callable[[str, dict[str, Any]], object],
    ) -> None:
        self.routes = RouteService(store, router, registry.systems)
        self.system_urls = SystemUrls(store, settings, reconfigure)
        self.classifications = Classifications(
            store, systems.reference.code_lists, settings.classification_authorities
        )
        self._refresh_s = settings.security.route_refresh_s

    def load(self) -> None:
        """Apply the stored run-time changes (blocking; the hub calls it through a thread at start)."""
        self.routes.load()
        self.system_urls.load()
        self.classifications.load()

    async def refresh_forever(self, stop: asyncio.Event) -> None:
        """Pick up route and system URL changes made by other processes (or the CLI) until `stop`, and
        reconcile the outbox with the pauses each time, even when nothing changed: a row held by a
        process whose table was stale must not stay held (it would block later versions for good)."""
        while not stop.is_set():
            for name, refresh in (
                ("routes", self.routes.refresh),
                ("system_urls", self.system_urls.load),
                ("classifications", self.classifications.load),
            ):
                try:
                    await asyncio.to_thread(refresh)
                except Exception as exc:  # the database may be briefly away; the last good state stays
                    if not database_unavailable(exc):  # an outage is logged once by the store
                        log.exception("admin_refresh_failed", what=name)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._refresh_s)
            except TimeoutError:
                pass
