"""Daraja's callback and the shopper's payment status page."""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from shop.htmx import wants_fragment
from shop.order_access import order_for_request
from shop.utils import client_ip

from . import services
from .exceptions import PaymentError
from .forms import MpesaPhoneForm

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


def _status_page(request: HttpRequest, order, *, form=None, error: str = "", status=200):
    payment = services.payment_state(order)
    if form is None:
        phone = payment.attempt.phone if payment.attempt else order.phone
        form = MpesaPhoneForm(initial={"phone": phone})
    template = "payments/status.html"
    if wants_fragment(request, "payment-status"):
        template += "#payment-status"
    context = {
        "order": order,
        "payment": payment,
        "form": form,
        "error": error,
        "max_per_payment": settings.MPESA_MAX_PER_PAYMENT,
        "paybill": {
            "till": settings.MPESA_TRANSACTION_TYPE == "CustomerBuyGoodsOnline",
            "number": settings.MPESA_PARTY_B,
        },
    }
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
def payment_status(request: HttpRequest, number: str) -> HttpResponse:
    """Show the order's payment; htmx polls the ``payment-status`` fragment."""
    return _status_page(request, order_for_request(request, number))


@require_POST
@vary_on_headers("HX-Request")
def payment_resend(request: HttpRequest, number: str) -> HttpResponse:
    """Send a new M-Pesa prompt for the order (throttled; asks about the last one first)."""
    order = order_for_request(request, number)
    form = MpesaPhoneForm(request.POST)
    error = ""
    if not form.is_valid():
        error = form.errors["phone"][0]
    else:
        try:
            services.resend_stk_push(order_id=order.pk, phone=form.cleaned_data["phone"])
        except PaymentError as problem:
            error = problem.shopper_message
    if request.htmx:
        request.htmx.target = "payment-status"
        return _status_page(request, order, form=form if error else None, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "We sent a new M-Pesa prompt to your phone.")
    return redirect("payments:status", number=order.number)
