"""Response headers and request limits every page gets (settings: SECURITY).

- ``Content-Security-Policy``: scripts only from the shop's own files (htmx
  and its extensions are served from ``/static/``; no page has an inline
  script or handler), styles from our CSS plus inline ``style`` attributes,
  pictures from the shop and its media host.
- ``Cache-Control: private, no-store`` on personal pages (orders, cart,
  checkout, wishlist, account, staff): no shared cache or back-forward
  cache keeps someone's address or order.
- Requests larger than ``MAX_REQUEST_BYTES`` are refused with 413 before
  anything reads their body (nginx's ``client_max_body_size`` says the same).
"""

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.MAX_REQUEST_BYTES:
            # Before sessions and sign-in: the cookie's or the browser's language.
            with translation.override(translation.get_language_from_request(request)):
                message = _(
                    "That upload is too large: the limit is %(limit)s MB. "
                    "Please send a smaller file."
                ) % {"limit": settings.MAX_REQUEST_BYTES // (1024 * 1024)}
            return HttpResponse(
                message,
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        response = self.get_response(request)
        path = request.path_info
        if "Content-Security-Policy" not in response:
            policy = (
                settings.STAFF_CONTENT_SECURITY_POLICY
                if path.startswith("/staff/")
                else settings.CONTENT_SECURITY_POLICY
            )
            if policy:
                response["Content-Security-Policy"] = policy
        if path.startswith(settings.PRIVATE_PATH_PREFIXES):
            patch_cache_control(response, private=True, no_store=True)
        return response
