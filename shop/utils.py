"""Small helpers shared by views and services."""

import ipaddress

from django.conf import settings


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
