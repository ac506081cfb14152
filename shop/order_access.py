"""Who may see an order: its shopper, the session that placed it, or a link key.

Order numbers are hard to guess but they are printed on receipts and
emails, so a number alone never opens an order page. The links in order
emails carry a signed ``key`` that lets the browser it is opened in see
that one order (a guest reading the email on their phone).
"""

from django.core import signing
from django.http import Http404

from .models import Order

SESSION_KEY = "shop:orders"
LINK_SALT = "shop.order-link"
#: Orders a visitor's session remembers (guest checkouts, newest last).
REMEMBERED = 20


def remember_order(request, order: Order) -> None:
    """Let this browser session open *order*'s pages."""
    numbers = [n for n in request.session.get(SESSION_KEY, []) if n != order.number]
    request.session[SESSION_KEY] = [*numbers, order.number][-REMEMBERED:]


def last_order_number(request) -> str | None:
    """Return the number of the order this session placed last, if any."""
    numbers = request.session.get(SESSION_KEY) or []
    return numbers[-1] if numbers else None


def order_link(order: Order) -> str:
    """Return the path of *order*'s page with a key that opens it anywhere."""
    key = signing.dumps(order.number, salt=LINK_SALT, compress=True)
    return f"{order.get_absolute_url()}?key={key}"


def _key_opens(request, number: str) -> bool:
    key = request.GET.get("key", "")
    if not key:
        return False
    try:
        return signing.loads(key, salt=LINK_SALT) == number
    except signing.BadSignature:
        return False


def order_for_request(request, number: str) -> Order:
    """Return the order numbered *number* if this request may see it, else 404.

    A valid link ``key`` also makes the session remember the order.
    """
    number = str(number)[:16]
    if "\x00" in number:  # PostgreSQL refuses NUL; no order number has one
        raise Http404("No such order")
    order = Order.objects.filter(number=number).first()
    if order is None:
        raise Http404("No such order")
    user = request.user
    if user.is_authenticated and order.user_id == user.pk:
        return order
    if order.number in (request.session.get(SESSION_KEY) or []):
        return order
    if _key_opens(request, order.number):
        remember_order(request, order)
        return order
    raise Http404("No such order")
