"""The one rule for answering htmx requests with a fragment."""

from django.http import HttpRequest


def wants_fragment(request: HttpRequest, target: str) -> bool:
    """Return True when an htmx request targets element *target*.

    A history restore (Back after the cache was evicted) asks for the whole
    page, so it gets one; views using this must send ``Vary: HX-Request``.
    """
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and htmx.target == target
