"""A real headless Chromium for end-to-end tests: Debian's `chromium` driven by Playwright, never a browser
Playwright downloads. Without it the browser tests skip, unless PRASAN_REQUIRE_BROWSER=1 (as in .ci/run),
which turns the skip into a failure so that CI cannot pass without having looked at the pages.

Each browser gets a fresh profile and reports what the page did: console errors, script errors, and every
request, with those to any host other than 127.0.0.1 refused and kept to be asserted on.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("PRASAN_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER_ENV = "PRASAN_REQUIRE_BROWSER"
# Quiet and offline: nothing the browser does by itself (updates, sync, QUIC probes) reaches the network.
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
PHONE = {"width": 360, "height": 740}


def chromium_or_skip() -> Path:
    """The browser to drive; skips (or fails, under PRASAN_REQUIRE_BROWSER=1) when it cannot be driven."""
    missing = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not CHROMIUM.is_file():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    if missing is not None:
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(f"{REQUIRE_BROWSER_ENV}=1 but {missing}")
        pytest.skip(f"no browser: {missing}")
    return CHROMIUM


@dataclass
class Watch:
    """What the pages of one browser did."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(f"{page.url}: {message.text}"))
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))

    async def route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).hostname != "127.0.0.1":
            self.foreign.append(url)
            await route.abort()
        else:
            await route.continue_()


@asynccontextmanager
async def chromium(playwright: Any, executable: Path, *, javascript: bool = True) -> AsyncIterator[tuple[Any, Watch]]:
    """A browser context at a phone's size, in a fresh profile, watched."""
    with tempfile.TemporaryDirectory(prefix="prasan-chromium-") as profile:
        context = await playwright.chromium.launch_persistent_context(
            profile, executable_path=str(executable), headless=True, args=ARGS, viewport=PHONE,
            java_script_enabled=javascript, locale="th-TH", timezone_id="Asia/Bangkok",
        )  # fmt: skip
        watch = Watch()
        context.on("page", watch.attach)
        for page in context.pages:
            watch.attach(page)
        await context.route("**/*", watch.route)
        try:
            yield context, watch
        finally:
            await context.close()
