"""Refuse NUL bytes in requests before they reach a view or the database.

PostgreSQL refuses a NUL character (``\\x00``) in text, so a ``%00`` in a
search, a filter, an order number or a form field would otherwise end in a
database error (a 500) wherever the value meets a query; SQLite stores it
quietly. No page of the shop has a use for one, so any NUL in the path,
the query string or the form fields (names, values, upload file names) is
answered here with a plain 400. A cookie carrying one is dropped (treated as
absent), so a planted cookie cannot lock a shopper out.

Daraja's callback (``payments:callback``) is left alone: its raw body is
stored and judged by the payments app, and it must always get it.
"""

from functools import cache

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse

NUL = "\x00"
MESSAGE = (
    "Bad request: the address or a form field contains a NUL character (%00), "
    "which this shop does not accept. Please remove it and try again.\n"
)


@cache
def _exempt_prefix() -> str:
    """Return the path prefix of Daraja's callback (the token is the last part)."""
    return reverse("payments:callback", kwargs={"token": "-"}).removesuffix("-/")


def _has_nul(values) -> bool:
    return any(NUL in key or any(NUL in value for value in items) for key, items in values)


def request_has_nul(request: HttpRequest) -> bool:
    """Return whether the request's path, query or form data has a NUL in it."""
    if NUL in request.path or NUL in request.path_info:
        return True
    if _has_nul(request.GET.lists()):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    if _has_nul(request.POST.lists()):
        return True
    return any(NUL in (upload.name or "") for _, files in request.FILES.lists() for upload in files)


class RefuseNulMiddleware:
    """Answer 400 to any request with a NUL byte in it (except Daraja's callback)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_exempt_prefix()):
            return self.get_response(request)
        for name in [name for name, value in request.COOKIES.items() if NUL in name + value]:
            del request.COOKIES[name]
        if request_has_nul(request):
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
