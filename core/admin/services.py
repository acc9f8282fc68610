"""The admin services of one hub, built with it: route management and system URLs."""

from __future__ import annotations

import asyncio
from typing import Any

from core.admin.routes import RouteService
from core.admin.systems import SystemUrls


class AdminServices:
    def __init__(self, hub: Any) -> None:
        self.routes = RouteService(hub.store, hub.router, hub.registry.systems)
        self.system_urls = SystemUrls(hub.store, hub.settings)
        self._refresh_s = hub.settings.security.route_refresh_s

    def load(self) -> None:
        """Apply the stored run-time changes (blocking; the hub calls it through a thread at start)."""
        self.routes.load()
        self.system_urls.load()

    async def refresh_forever(self, stop: asyncio.Event) -> None:
        await self.routes.refresh_forever(self._refresh_s, stop)
