"""An order's payment page: the M-Pesa prompt's state, new prompts, Paybill.

The rules are the payments app's (``payments.services``); this is the
shop's page for one of its orders.
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from payments import services
from payments.exceptions import PaymentError
from payments.forms import MpesaPhoneForm
from storefront.htmx import wants_fragment

from ..order_access import order_for_request


def _status_page(request: HttpRequest, order, *, form=None, error: str = "", status=200):
    payment = services.payment_state(order)
    if form is None:
        phone = payment.attempt.phone if payment.attempt else order.phone
        form = MpesaPhoneForm(initial={"phone": phone})
    template = "shop/payment.html"
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
        messages.success(request, _("We sent a new M-Pesa prompt to your phone."))
    return redirect("shop:order-payment", number=order.number)
