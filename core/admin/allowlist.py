"""The allow-list of destination URLs: a system's URL may only be changed at run time to one of these."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


class UrlNotAllowed(ValueError):
    """The URL is not on the configured allow-list (or is not an http(s) URL at all)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlNotAllowed(f"{url!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise UrlNotAllowed("a URL with credentials in it is not allowed; give secrets as settings")
    try:
        port = parts.port
    except ValueError:
        raise UrlNotAllowed(f"{url!r} has an invalid port") from None
    return parts.scheme, parts.hostname.lower(), port


def check_url(url: str, allowlist: Iterable[str]) -> str:
    """Return `url` when its scheme and host (and port, if the entry names one) match an entry."""
    scheme, host, port = _origin(url)
    for entry in allowlist:
        try:
            e_scheme, e_host, e_port = _origin(entry)
        except UrlNotAllowed:
            continue
        if (scheme, host) == (e_scheme, e_host) and (e_port is None or e_port == (port or _default_port(scheme))):
            return url
    raise UrlNotAllowed(f"{scheme}://{host} is not on the destination URL allow-list")


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
