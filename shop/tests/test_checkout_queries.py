"""What one "Pay with M-Pesa" costs the database: a fixed number of queries.

Counted as production runs it: real transactions (BEGIN and COMMIT are
counted, as Django logs them) and the tasks queued when the order commits,
so the test runs outside the usual test transaction.
"""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from payments.models import PaymentAttempt
from shop.carts import CART_SESSION_KEY
from shop.models import CartLine, DeliveryZone, Order, ProductVariant
from shop.order_access import SESSION_KEY

from .factories import make_product

CHECKOUT = reverse("shop:checkout")
GUEST = {
    "email": "amina@example.com",
    "new-recipient_name": "Amina Wanjiru",
    "new-phone": "0712 345 678",
    "new-county": "47",  # Nairobi
    "new-town": "Westlands",
    "new-street": "Mpaka Road, Apple Court",
    "new-notes": "Blue gate",
    "mpesa_phone": "0708 374 149",
    "action": "pay",
}
#: The most queries one Pay may run, whatever the number of lines.
MOST = 15


def pay(client, lines: int, stock: int = 5) -> tuple[list[str], Order, datetime]:
    """Fill a new visitor's cart with *lines* items (2 units each, of *stock*) and pay.

    Return the Pay's queries, the order and when the Pay started.
    """
    client.cookies.clear()
    for _ in range(lines):
        variant = make_product(prices=("1500",), stock=stock, image=False).variants.get()
        response = client.post(reverse("shop:cart-add"), {"variant": variant.pk, "quantity": 2})
        assert response.status_code == 302
    started = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 302, response.content[:300]
    order = Order.objects.latest("created", "id")
    assert response["Location"] == reverse("shop:order-payment", args=[order.number])
    return [query["sql"] for query in queries.captured_queries], order, started


#: What selling a variant's last units adds: the lists to mark stale, and
#: its cells' in-stock facet counts again (where the products are, the lock,
#: delete, two counts, insert).
RECOUNT = 7


@pytest.mark.django_db(transaction=True)
def test_a_pay_that_takes_the_last_units_adds_only_the_in_stock_recount(client, sim, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200, free_over=10000)
    plenty, _, _ = pay(client, 1)
    one, _, _ = pay(client, 1, stock=2)
    five, _, _ = pay(client, 5, stock=2)
    shown = "\n".join(f"{n}. {sql[:150]}" for n, sql in enumerate(five, 1))
    assert len(one) == len(five) <= len(plenty) + RECOUNT, shown


@pytest.mark.django_db(transaction=True)
def test_pay_runs_at_most_fifteen_queries_for_one_line_or_five(client, sim, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200, free_over=10000)
    one, _, _ = pay(client, 1)
    five, order, started = pay(client, 5)
    shown = "\n".join(f"{n}. {sql[:150]}" for n, sql in enumerate(five, 1))
    assert len(one) == len(five), shown
    assert len(five) <= MOST, shown

    # Everything a Pay does is still done: the order with its five lines and
    # stock held, the cart emptied, the push accepted, the tasks queued and
    # the session able to open the order.
    assert order.lines.count() == 5 and order.events.count() == 1
    held = ProductVariant.objects.filter(pk__in=order.lines.values("variant_id"))
    assert sorted(held.values_list("stock_allocated", flat=True)) == [2] * 5
    assert not CartLine.objects.filter(cart_id=client.session[CART_SESSION_KEY]).exists()
    attempt = PaymentAttempt.objects.get(order=order)
    assert attempt.checkout_request_id and attempt.amount == order.amount_payable
    assert order.number in client.session[SESSION_KEY]
    tasks = {
        row.task_path: row
        for row in DBTaskResult.objects.all()
        if row.args_kwargs["args"][0] in (order.pk, attempt.pk)
    }
    email = tasks["shop.tasks.send_order_email"]
    assert email.args_kwargs["args"] == [order.pk, "received"] and email.task.run_after is None
    assert tasks["shop.tasks.expire_order_task"].run_after == order.expires_at
    # The STK query is queued with the order, for a minute after the push.
    reconcile = tasks["payments.tasks.reconcile_attempt_task"]
    after = timedelta(seconds=settings.MPESA_RECONCILE_AFTER_SECONDS)
    assert reconcile.args_kwargs["args"] == [attempt.pk]
    assert started <= reconcile.run_after - after <= attempt.next_query_at - after


@pytest.mark.django_db(transaction=True)
def test_a_taken_order_number_places_the_order_again(client, sim, monkeypatch):
    """The number's uniqueness is not asked before the insert: a clash retries."""
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200)
    _, first, _ = pay(client, 1)
    numbers = iter([first.number, "DT23456789"])
    monkeypatch.setattr("shop.services.orders.new_order_number", lambda: next(numbers))
    _, second, _ = pay(client, 1)
    assert second.number == "DT23456789"
    assert Order.objects.count() == 2 and second.lines.count() == 1
    assert PaymentAttempt.objects.filter(order=second).count() == 1
