"""Daraja's callback: the one view of payments (the status page is the shop's)."""

import logging

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    JsonResponse,
)
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from storefront.web import client_ip

from . import services

logger = logging.getLogger(__name__)

#: Daraja's acknowledgement (the documented C2B reply; STK defines none).
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}
#: A real STK callback is well under 2 KB.
MAX_CALLBACK_BYTES = 64 * 1024


@csrf_exempt
@require_POST
def callback(request: HttpRequest, token: str) -> HttpResponse:
    """Receive Daraja's STK result: store it, process it, acknowledge at once."""
    ip = client_ip(request)
    expected = settings.MPESA_CALLBACK_TOKEN
    if not expected or not constant_time_compare(token, expected):
        logger.warning("Callback with a wrong path token from %s", ip)
        return HttpResponseNotFound("Not found", content_type="text/plain")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_CALLBACK_BYTES:
        logger.warning("Callback of %s bytes from %s refused", length, ip)
        return HttpResponse("Too large", status=413, content_type="text/plain")
    policy = settings.MPESA_CALLBACK_IP_POLICY
    allowed = None if policy == "off" else ip in settings.MPESA_CALLBACK_ALLOWED_IPS
    if allowed is False:
        if policy == "enforce":
            logger.warning("Callback from %s refused: not an allowed address", ip)
            return HttpResponseForbidden("Forbidden", content_type="text/plain")
        logger.info("Callback from %s, which is not on the allow-list (log only)", ip)
    services.receive_callback(body=request.body, remote_addr=ip, ip_allowed=allowed)
    return JsonResponse(ACCEPTED)
