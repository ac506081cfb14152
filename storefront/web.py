"""Small helpers shared by views and services."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme


def int_or_none(value) -> int | None:
    """Return *value* as an int, or None for anything that isn't one (form input)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def client_ip(request) -> str | None:
    """Return the caller's address, believing X-Forwarded-For only from our proxies."""
    address = request.META.get("REMOTE_ADDR", "")
    if address in settings.TRUSTED_PROXIES:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if hop not in settings.TRUSTED_PROXIES:
                address = hop
                break
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _plain(url: str) -> bool:
    """Whether *url* has no whitespace, control characters or backslashes.

    Browsers drop tabs and newlines inside a URL and read a backslash as
    ``/``, so "java<tab>script:" or "/<backslash>evil.com" would leave the shop.
    """
    return not any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in url)


#: Longer "links" are not links anyone typed or clicked.
MAX_URL_LENGTH = 2000


def is_local_path(url: str) -> bool:
    """Whether *url* is a path on this site: one leading ``/``, no scheme or host."""
    return (
        isinstance(url, str)
        and len(url) <= MAX_URL_LENGTH
        and url.startswith("/")
        and not url.startswith("//")
        and _plain(url)
        and not urlsplit(url).netloc
    )


def is_safe_link(url: str) -> bool:
    """Whether *url* may be a link on a page: a local path or an http(s) URL.

    Staff-entered links (banners) are refused otherwise: ``javascript:``,
    ``data:`` and ``//host`` (which takes the page's scheme) never render.
    """
    if is_local_path(url):
        return True
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or not _plain(url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def safe_next(request, fallback: str | None = None) -> str | None:
    """Return the request's ``next`` if it is a local path on this site, else *fallback*.

    Every view that follows a ``next`` asks here: anything else (another
    host, a scheme, a bare word such as ``next=foo``) is ignored.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if is_local_path(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
