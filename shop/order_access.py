"""Who may see an order: its shopper, or the browser session that placed it.

Order numbers are hard to guess but they are printed on receipts and
emails, so a number alone never opens an order page.
"""

from django.http import Http404

from .models import Order

SESSION_KEY = "shop:orders"
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


def order_for_request(request, number: str) -> Order:
    """Return the order numbered *number* if this request may see it, else 404."""
    order = Order.objects.filter(number=str(number)[:16]).first()
    if order is None:
        raise Http404("No such order")
    user = request.user
    if user.is_authenticated and order.user_id == user.pk:
        return order
    if order.number in (request.session.get(SESSION_KEY) or []):
        return order
    raise Http404("No such order")
