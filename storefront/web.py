"""Small helpers shared by views and services."""

from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme

from storefront.addresses import client_from, trusted_networks


def int_or_none(value) -> int | None:
    """Return *value* as an int, or None for anything that isn't one (form input)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=4)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return trusted_networks(proxies)  # settings refused bad ones at start-up


def client_ip(request) -> str | None:
    """Return the caller's address: the one every throttle and rate limit counts.

    ``X-Forwarded-For`` is believed only as far as the shop's own proxies
    (``TRUSTED_PROXIES``: addresses or CIDR ranges) wrote it; the rule is
    ``storefront.addresses.client_from``. None when no address can be told.
    """
    cached = getattr(request, "_client_ip", False)
    if cached is False:
        cached = request._client_ip = client_from(
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_X_FORWARDED_FOR", ""),
            _networks(tuple(settings.TRUSTED_PROXIES)),
        )
    return cached


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
