"""Checkout: one page that places the order and asks M-Pesa for the money."""

from django.contrib import messages
from django.contrib.sessions.backends import db as db_sessions
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from accounts import services as account_services
from accounts.counties import COUNTY_NAMES
from accounts.models import Address
from payments import services as payment_services
from payments.exceptions import PaymentError
from storefront.htmx import wants_fragment
from storefront.money import quantize, whole_shillings
from storefront.web import client_ip, int_or_none

from .. import services
from ..carts import cart_to_change, current_cart
from ..exceptions import CheckoutError, EmptyCart
from ..forms import NEW_ADDRESS, CheckoutForm, NewAddressForm
from ..order_access import SESSION_KEY, last_order_number, remember_order


def _initial(request: HttpRequest, addresses: list[Address]) -> tuple[dict, dict]:
    """Return the initial values of the checkout and new-address forms."""
    user = request.user
    default = addresses[0] if addresses else None
    checkout = {
        "address": str(default.pk) if default else NEW_ADDRESS,
        "mpesa_phone": (user.phone if user.is_authenticated else "")
        or (default.phone if default else ""),
    }
    address = {}
    if user.is_authenticated:
        address = {"recipient_name": user.get_full_name(), "phone": user.phone}
    return checkout, address


def _chosen_county(data, addresses: list[Address]) -> str:
    """Return the county name the submitted (or initial) data delivers to, or ""."""
    choice = data.get("address") or NEW_ADDRESS
    if choice != NEW_ADDRESS:
        address = next((a for a in addresses if str(a.pk) == str(choice)), None)
        return address.county_name if address else ""
    return COUNTY_NAMES.get(int_or_none(data.get("new-county") or data.get("county")), "")


def _delivery_address(form: CheckoutForm, address_form, addresses) -> services.DeliveryAddress:
    if form.wants_new_address:
        data = address_form.cleaned_data
        return services.DeliveryAddress(
            recipient_name=data["recipient_name"],
            phone=data["phone"],
            county=COUNTY_NAMES[data["county"]],
            town=data["town"],
            street=data["street"],
            landmark=data["notes"],
        )
    address = next(a for a in addresses if str(a.pk) == form.cleaned_data["address"])
    return services.DeliveryAddress(
        recipient_name=address.recipient_name,
        phone=address.phone,
        county=address.county_name,
        town=address.town,
        street=address.street,
        landmark=address.notes,
    )


def _remember_with_the_order(request: HttpRequest, order) -> None:
    """Let the session open *order*, saved in the transaction that places it.

    With database sessions (the shop's) the session row is updated inside
    that transaction, so the session knows the order exactly when the order
    exists, and the response has nothing left to save; another session
    engine saves as usual after the view.
    """
    remember_order(request, order)
    session = request.session
    if type(session) is not db_sessions.SessionStore or not session.session_key:
        return
    row = session.create_model_instance(dict(session.items()))
    stored = type(row).objects.filter(session_key=row.session_key)
    if stored.update(session_data=row.session_data, expire_date=row.expire_date):
        session.modified = False


def _place_and_pay(request, form, address_form, addresses) -> HttpResponse | str:
    """Place the order and send its M-Pesa prompt; return the redirect, or why not.

    The order, its first payment attempt and the session's note of the
    order commit together (``services.place_order_to_pay``); Daraja is asked
    after that. An empty cart (a second submit of a placed order, or
    nothing in it) returns "" for the page to redirect as a GET would.
    """
    user = request.user
    email = user.email if user.is_authenticated else form.cleaned_data["email"]
    phone = form.cleaned_data["mpesa_phone"]
    cart = cart_to_change(request)
    if cart is None:
        return ""
    try:
        order, attempt = services.place_order_to_pay(
            cart=cart,
            email=email,
            phone=phone,
            address=_delivery_address(form, address_form, addresses),
            user=user,
            session_orders=request.session.get(SESSION_KEY) or [],
            client_ip=client_ip(request),
            before_commit=lambda order: _remember_with_the_order(request, order),
        )
    except EmptyCart:  # also a session's cart that is gone or became a shopper's
        return ""
    except CheckoutError as problem:
        return problem.message
    if user.is_authenticated and form.wants_new_address and form.cleaned_data.get("save_address"):
        account_services.create_address(user=user, **address_form.cleaned_data)
    try:
        if attempt is not None:
            payment_services.send_first_push(attempt)
        else:
            payment_services.request_stk_push(order_id=order.pk, phone=phone)
    except PaymentError:
        pass  # recorded on the attempt: the status page explains it
    return redirect("shop:order-payment", number=order.number)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def checkout(request: HttpRequest) -> HttpResponse:
    """Show the checkout; a POST places the order and sends the M-Pesa prompt.

    ``action=quote`` (the county picker with htmx, or the "Update delivery
    fee" button without JavaScript) only works out the delivery fee.
    """
    user = request.user
    placing = request.method == "POST" and request.POST.get("action") != "quote"
    if placing:
        addresses = list(Address.objects.for_user(user)) if user.is_authenticated else []
        form = CheckoutForm(request.POST, user=user, addresses=addresses)
        address_form = NewAddressForm(request.POST)
        if form.is_valid() and (not form.wants_new_address or address_form.is_valid()):
            # Straight to the order: place_order_to_pay reads and locks the
            # cart's lines itself, so the summary is made only to show the page.
            placed = _place_and_pay(request, form, address_form, addresses)
            if isinstance(placed, HttpResponse):
                return placed
            error = placed
        else:
            error = ""
    cart = current_cart(request)
    summary = services.summarise_cart(cart)
    if not summary.lines:
        pending = last_order_number(request)
        if request.method == "POST" and pending:
            # A second submit of a placed order (double click, Back + resubmit).
            return redirect("shop:order-payment", number=pending)
        messages.info(request, _("Your cart is empty."))
        return redirect("shop:cart")
    if not placing:
        addresses = list(Address.objects.for_user(user)) if user.is_authenticated else []
        initial, address_initial = _initial(request, addresses)
        # The fee quote keeps what was typed without showing errors yet.
        data = request.POST if request.method == "POST" else {}
        form = CheckoutForm(
            user=user, addresses=addresses, initial={**initial, **data.dict()} if data else initial
        )
        address_form = NewAddressForm(
            initial={
                **address_initial,
                **{k.removeprefix("new-"): v for k, v in data.items() if k.startswith("new-")},
            }
        )
        error = ""
    data = request.POST if request.method == "POST" else initial
    county = _chosen_county(data, addresses)
    quote = services.delivery_quote(county=county, subtotal=summary.subtotal) if county else None
    total = quantize(summary.subtotal + quote.fee) if quote else None
    payable = whole_shillings(total if total is not None else summary.subtotal)
    context = {
        "cart": summary,
        "form": form,
        "address_form": address_form,
        "addresses": addresses,
        "county": county,
        "quote": quote,
        "total": total,
        # M-Pesa's ceilings: how many prompts this order takes, or why it can't.
        "mpesa_parts": payment_services.part_amounts(payable),
        "mpesa_refusal": payment_services.amount_refusal(payable),
        "error": error,
    }
    template = "shop/checkout.html"
    if wants_fragment(request, "order-summary"):
        # The pay button shows the total too: it asks for its own fragment.
        response = render(request, template + "#order-summary", context)
        return trigger_client_event(response, "checkout:quoted", {})
    if wants_fragment(request, "pay-amount"):
        template += "#pay-amount"
    return render(request, template, context, status=400 if placing else 200)
