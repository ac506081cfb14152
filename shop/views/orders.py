"""The shopper's orders: list, detail with its timeline, find, cancel, reorder."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.phones import InvalidPhoneNumber, normalise_kenyan_phone
from storefront import ratelimit
from storefront.web import client_ip

from .. import receipts as receipt_pdf
from .. import services
from ..carts import current_cart
from ..exceptions import IllegalTransition
from ..models import Order, Shipment, ShipmentUpdate
from ..order_access import order_for_request, remember_order
from ..timeline import order_timeline

#: Guest look-ups allowed per address in FIND_WINDOW seconds (against guessing).
FIND_ATTEMPTS = 10
FIND_WINDOW = 600


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """A shopper's orders, newest first; everyone can find an order by number."""
    page = None
    if request.user.is_authenticated:
        orders = Order.objects.filter(user=request.user).order_by("-created", "-id")
        page = Paginator(orders, 10).get_page(request.GET.get("page"))
    return render(request, "shop/order_list.html", {"page": page})


def _find_throttled(request: HttpRequest) -> bool:
    return not ratelimit.hit(
        "order-find", str(client_ip(request)), limit=FIND_ATTEMPTS, seconds=FIND_WINDOW
    )


@require_POST
def order_find(request: HttpRequest) -> HttpResponse:
    """Open a guest's order from its number and the phone it was placed with."""
    # Letters and digits only: spaces or dashes typed by the shopper, and
    # anything PostgreSQL can't compare (NUL), are left out.
    typed = request.POST.get("number", "")
    number = "".join(c for c in typed.upper() if c.isascii() and c.isalnum())[:16]
    error = ""
    try:
        phone = normalise_kenyan_phone(request.POST.get("phone", ""))
    except InvalidPhoneNumber as problem:
        phone, error = "", problem.message
    if _find_throttled(request):
        error = _("Too many tries. Please wait a few minutes and try again.")
    order = None
    if not error:
        order = (
            Order.objects.filter(number=number)
            .filter(Q(phone=phone) | Q(recipient_phone=phone))
            .only("id", "number", "user_id")
            .first()
        )
        if order is None:
            error = _("We couldn't find an order with that number and phone number.")
    if error:
        messages.error(request, error)
        return redirect("shop:order-list")
    remember_order(request, order)
    return redirect(order.get_absolute_url())


@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """The order with its timeline, parcel tracking, payment and actions."""
    order = order_for_request(request, number)
    lines = list(order.lines.select_related("variant__product"))
    events = list(order.events.all())
    shipments = list(
        Shipment.objects.filter(order=order).prefetch_related(
            Prefetch("updates", queryset=ShipmentUpdate.objects.order_by("created", "id"))
        )
    )
    receipts = order.payment_attempts.receipts()
    context = {
        "order": order,
        "lines": lines,
        "timeline": order_timeline(order, events, shipments),
        "shipments": shipments,
        "receipts": receipts,
        "can_cancel": order.status in services.fulfilment.CANCELLABLE,
        # Part of an order paid in parts may be in before the order is paid.
        "paid_so_far": services.fulfilment.paid_so_far(order) if order.is_open_for_payment else 0,
        "support_phone": settings.SUPPORT_PHONE,
        "vat": receipt_pdf.order_vat(order),
        "vat_rate": receipt_pdf.vat_rate_label(),
        "has_receipt": receipt_pdf.has_receipt(order),
    }
    return render(request, "shop/order_detail.html", context)


@require_GET
def order_receipt(request: HttpRequest, number: str) -> HttpResponse:
    """The paid order's receipt / tax invoice as a PDF download."""
    order = order_for_request(request, number)
    if not receipt_pdf.has_receipt(order):
        messages.info(
            request,
            _("Order %(number)s has no receipt yet: we make it once the order is paid.")
            % {"number": order.number},
        )
        return redirect(order.get_absolute_url())
    response = HttpResponse(receipt_pdf.render_receipt(order), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"receipt-{order.number}.pdf"
    )
    return response


@require_POST
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = order_for_request(request, number)
    actor = request.user if request.user.is_authenticated else None
    try:
        order = services.cancel_order(
            order_id=order.pk, actor=actor, reason=request.POST.get("reason", "")
        )
    except IllegalTransition as problem:
        messages.error(request, problem.message)
    else:
        if order.status == Order.Status.CANCELLED:
            messages.success(
                request, _("Order %(number)s is cancelled.") % {"number": order.number}
            )
        else:
            messages.success(
                request,
                _(
                    "We're cancelling order %(number)s and will refund your payment. "
                    "We'll email you when the refund is sent."
                )
                % {"number": order.number},
            )
    return redirect(order.get_absolute_url())


@require_POST
def order_reorder(request: HttpRequest, number: str) -> HttpResponse:
    order = order_for_request(request, number)
    added, problems = services.reorder(order=order, cart=current_cart(request, create=True))
    for problem in problems:
        messages.warning(request, problem)
    if added:
        count = len(added)
        messages.success(
            request,
            ngettext(
                "Added %(count)s item to your cart.", "Added %(count)s items to your cart.", count
            )
            % {"count": count},
        )
        return redirect("shop:cart")
    return redirect(order.get_absolute_url())
