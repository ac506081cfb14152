"""Orders: placing, delivery fees, the status machine, payment, expiry and races."""

import re
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks.exceptions import InvalidTaskError
from django_tasks_db.models import DBTaskResult

from shop import services
from shop.exceptions import EmptyCart, IllegalTransition, InsufficientStock
from shop.models import (
    Cart,
    CartLine,
    DeliveryZone,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    ProductVariant,
)
from shop.services import DeliveryAddress
from shop.tasks import expire_order_task, send_order_email
from storefront import sms

from .factories import make_product, move_order
from .threads import run_in_threads

pytestmark = pytest.mark.django_db

S = Order.Status
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
ADDRESS = DeliveryAddress(
    recipient_name="Amina Wanjiru",
    phone="0712345678",
    county="Nairobi",
    town="Westlands",
    street="Mpaka Road",
    landmark="Opposite the mall",
)
NUMBER = re.compile(r"^DT[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$")

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Row locks and concurrent writers need PostgreSQL; SQLite serialises writers.",
)


def variant_of(price="10000", stock=5, **fields) -> ProductVariant:
    return make_product(prices=(price,), stock=stock, image=False, **fields).variants.get()


def cart_with(*items) -> Cart:
    """A cart holding ``(variant, quantity)`` lines, stock checks bypassed."""
    cart = Cart.objects.create()
    for variant, quantity in items:
        CartLine.objects.create(
            cart=cart, variant=variant, quantity=quantity, price_when_added=variant.price
        )
    return cart


def place(cart, **kwargs) -> Order:
    kwargs.setdefault("address", ADDRESS)
    kwargs.setdefault("phone", "254712345678")
    return services.place_order(cart=cart, email="amina@example.com", **kwargs)


def order_of(variant, quantity=1, **kwargs) -> Order:
    return place(cart_with((variant, quantity)), **kwargs)


def stock(variant) -> tuple[int, int]:
    """(on hand, allocated) as stored now."""
    return tuple(
        ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk)
    )


def cart_lines(cart) -> list[tuple[int, int]]:
    return sorted(cart.lines.values_list("variant_id", "quantity"))


def state(order) -> dict:
    """Everything a status change or payment may touch, for before/after comparisons."""
    order = Order.objects.get(pk=order.pk)
    variant_ids = list(order.lines.values_list("variant_id", flat=True))
    return {
        "status": order.status,
        "paid_at": order.paid_at,
        "stock_released": order.stock_released,
        "updated": order.updated,
        "events": list(order.events.values_list("from_status", "to_status", "note")),
        "stock": list(
            ProductVariant.objects.filter(pk__in=variant_ids)
            .order_by("pk")
            .values_list("pk", "stock_on_hand", "stock_allocated")
        ),
        "units_sold": list(
            Product.objects.filter(variants__in=variant_ids)
            .distinct()
            .order_by("pk")
            .values_list("pk", "units_sold")
        ),
    }


def add_allocation(variant, units: int) -> None:
    """Another shopper's hold on the same stock, so double releases can't hide."""
    ProductVariant.objects.filter(pk=variant.pk).update(
        stock_allocated=F("stock_allocated") + units
    )


# place_order -----------------------------------------------------------------


@pytest.fixture
def nairobi():
    return DeliveryZone.objects.create(
        name="Nairobi", counties=["Nairobi", "Kiambu"], fee=Decimal("250"), delivery_days="1 day"
    )


def test_place_order_creates_an_order_awaiting_payment(nairobi):
    phone = variant_of("18999", stock=5, name="Galaxy A15")
    cable = variant_of("999.50", stock=3, name="USB-C cable")
    cart = cart_with((phone, 2), (cable, 1))
    now = timezone.now()

    order = place(cart, now=now)

    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT
    assert NUMBER.match(order.number), order.number
    assert order.expires_at == now + timedelta(minutes=30)
    assert order.paid_at is None and order.user is None and not order.stock_released
    assert (order.email, order.phone) == ("amina@example.com", "254712345678")
    assert (
        order.recipient_name,
        order.recipient_phone,
        order.county,
        order.town,
        order.street,
        order.landmark,
    ) == ("Amina Wanjiru", "0712345678", "Nairobi", "Westlands", "Mpaka Road", "Opposite the mall")
    for amount in (order.subtotal, order.delivery_fee, order.total):
        assert isinstance(amount, Decimal)
    assert order.subtotal == Decimal("38997.50")  # 2 × 18,999 + 999.50
    assert order.delivery_fee == Decimal("250.00")
    assert order.total == Decimal("39247.50")
    assert order.amount_payable == 39248 and isinstance(order.amount_payable, int)
    assert list(
        order.lines.order_by("variant_id").values_list(
            "variant_id",
            "product_name",
            "variant_name",
            "sku",
            "unit_price",
            "quantity",
            "line_total",
        )
    ) == [
        (
            phone.pk,
            "Galaxy A15",
            phone.name,
            phone.sku,
            Decimal("18999.00"),
            2,
            Decimal("37998.00"),
        ),
        (cable.pk, "USB-C cable", cable.name, cable.sku, Decimal("999.50"), 1, Decimal("999.50")),
    ]
    assert stock(phone) == (5, 2) and stock(cable) == (3, 1)
    assert cart_lines(cart) == [] and Cart.objects.filter(pk=cart.pk).exists()
    assert list(order.events.values_list("from_status", "to_status", "note", "actor")) == [
        ("", S.AWAITING_PAYMENT, "Order placed", None)
    ]


def test_order_lines_keep_their_price_when_the_catalogue_changes():
    variant = variant_of("18999", stock=5, name="Galaxy A15")
    order = order_of(variant, 2)
    ProductVariant.objects.filter(pk=variant.pk).update(price=Decimal("15999"), name="Renamed")
    Product.objects.filter(pk=variant.product_id).update(name="Galaxy A15 (2025)")

    order.refresh_from_db()
    line = order.lines.get()
    assert (line.product_name, line.variant_name) == ("Galaxy A15", variant.name)
    assert (line.unit_price, line.line_total) == (Decimal("18999.00"), Decimal("37998.00"))
    assert (order.subtotal, order.total) == (Decimal("37998.00"), Decimal("38498.00"))


def test_an_order_charges_todays_price_not_the_price_when_added():
    variant = variant_of("18999", stock=5)
    cart = cart_with((variant, 2))
    ProductVariant.objects.filter(pk=variant.pk).update(price=Decimal("17999.50"))

    order = place(cart)

    line = order.lines.get()
    assert (line.unit_price, line.line_total) == (Decimal("17999.50"), Decimal("35999.00"))
    assert order.subtotal == line.line_total


@pytest.mark.parametrize(
    ("price", "quantity", "total", "payable"),
    [
        ("999.50", 1, "1499.50", 1500),  # cents are rounded up, never down
        ("999.01", 1, "1499.01", 1500),
        ("333.33", 3, "1499.99", 1500),
        ("1000.00", 1, "1500.00", 1500),  # whole shillings stay as they are
    ],
)
def test_amount_payable_is_the_total_rounded_up_to_whole_shillings(price, quantity, total, payable):
    order = order_of(variant_of(price, stock=5), quantity)  # no zones: KES 500 delivery
    order.refresh_from_db()
    assert (order.delivery_fee, order.total) == (Decimal("500.00"), Decimal(total))
    assert order.amount_payable == payable


def test_order_payment_minutes_setting_sets_the_expiry(settings):
    now = timezone.now()
    settings.ORDER_PAYMENT_MINUTES = 45
    assert order_of(variant_of(), now=now).expires_at == now + timedelta(minutes=45)
    del settings.ORDER_PAYMENT_MINUTES
    assert order_of(variant_of(), now=now).expires_at == now + timedelta(minutes=30)


def test_expiry_defaults_to_thirty_minutes_from_now():
    before = timezone.now()
    order = order_of(variant_of())
    after = timezone.now()
    assert before + timedelta(minutes=30) <= order.expires_at <= after + timedelta(minutes=30)


def test_a_signed_in_shopper_owns_the_order_and_a_visitor_does_not():
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    assert order_of(variant_of(), user=user).user == user
    assert order_of(variant_of(), user=AnonymousUser()).user is None


def test_one_error_names_every_short_line_and_reserves_nothing():
    short = variant_of("18999", stock=1, name="Galaxy A15")
    sold_out = variant_of("24999", stock=2, name="Redmi Note 13")
    add_allocation(sold_out, 2)  # held by other orders
    fine = variant_of("999", stock=5, name="Charger")
    cart = cart_with((short, 2), (fine, 1), (sold_out, 1))
    before = cart_lines(cart)

    with pytest.raises(InsufficientStock) as caught:
        place(cart)

    assert caught.value.shortages == [(str(short), 2, 1), (str(sold_out), 1, 0)]
    message = str(caught.value)
    assert f"{short}: only 1 left (you asked for 2)" in message
    assert f"{sold_out}: sold out" in message
    assert str(fine) not in message
    assert (stock(short), stock(sold_out), stock(fine)) == ((1, 0), (2, 2), (5, 0))
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert not OrderEvent.objects.exists()
    assert cart_lines(cart) == before


@pytest.mark.parametrize("hidden", ["variant", "product"])
def test_inactive_variants_and_products_are_unavailable(hidden):
    variant = variant_of(stock=5, name="Galaxy A15")
    if hidden == "variant":
        ProductVariant.objects.filter(pk=variant.pk).update(is_active=False)
    else:
        Product.objects.filter(pk=variant.product_id).update(is_active=False)
    cart = cart_with((variant, 1))

    with pytest.raises(InsufficientStock) as caught:
        place(cart)

    assert caught.value.shortages == [(str(variant), 1, 0)]
    assert stock(variant) == (5, 0)
    assert not Order.objects.exists()
    assert cart_lines(cart) == [(variant.pk, 1)]


def test_an_empty_cart_cannot_be_ordered():
    with pytest.raises(EmptyCart):
        place(Cart.objects.create())
    assert not Order.objects.exists()


# Emails and background tasks ------------------------------------------------


def run_like_the_worker(row: DBTaskResult):
    """Run a stored task as ``db_worker`` does: its task, with its stored arguments."""
    result = row.task_result
    return row.task.call(*result.args, **result.kwargs)


def test_placing_enqueues_the_received_email_and_the_expiry(
    settings, django_capture_on_commit_callbacks
):
    settings.TASKS = DB_TASKS
    cart = cart_with((variant_of("999.50", stock=5, name="USB-C cable"), 2))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = place(cart)
        # The email is queued in the order's own transaction; the expiry once it commits.
        assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == [
            "shop.tasks.send_order_email"
        ]

    assert len(callbacks) == 1
    email = DBTaskResult.objects.get(task_path="shop.tasks.send_order_email")
    expiry = DBTaskResult.objects.get(task_path="shop.tasks.expire_order_task")
    assert email.args_kwargs == {"args": [order.pk, "received"], "kwargs": {}}
    assert email.task.run_after is None
    assert expiry.args_kwargs == {"args": [order.pk], "kwargs": {}}
    assert expiry.run_after == order.expires_at
    assert mail.outbox == []

    run_like_the_worker(email)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == f"We received your order {order.number}"
    assert message.to == ["amina@example.com"]
    assert "Hello Amina Wanjiru" in message.body
    assert "2 × USB-C cable" in message.body and "Total: KES 2,499" in message.body
    # Run early, the expiry task leaves the order alone.
    assert run_like_the_worker(expiry) is False
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_a_refused_order_enqueues_nothing(settings, django_capture_on_commit_callbacks):
    settings.TASKS = DB_TASKS
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(InsufficientStock):
            place(cart_with((variant_of(stock=1), 2)))
    assert callbacks == [] and not DBTaskResult.objects.exists() and mail.outbox == []


def test_the_immediate_task_backend_refuses_the_deferred_expiry(
    settings, django_capture_on_commit_callbacks
):
    """django-tasks' ImmediateBackend has no ``run_after`` (supports_defer = False).

    The order is committed and the received email goes out, but scheduling the
    expiry then raises out of the on-commit hook, so with this backend the
    caller of place_order sees an error for an order that was placed. The
    shop's configured database backend supports deferral; see
    test_placing_enqueues_the_received_email_and_the_expiry.
    """
    settings.TASKS = IMMEDIATE_TASKS
    with pytest.raises(InvalidTaskError, match="run_after"):
        with django_capture_on_commit_callbacks(execute=True):
            order = place(cart_with((variant_of(), 1)))
    assert Order.objects.filter(pk=order.pk, status=S.AWAITING_PAYMENT).exists()
    assert [m.subject for m in mail.outbox] == [f"We received your order {order.number}"]


def test_the_received_email_asks_for_the_amount_mpesa_will_request():
    order = order_of(variant_of("999.50", stock=5))
    assert order.amount_payable == 1500
    send_order_email.call(order.pk, "received")
    assert "pay KES 1,500" in mail.outbox[0].body


def test_a_payment_enqueues_the_paid_email_and_text(settings, django_capture_on_commit_callbacks):
    settings.TASKS = DB_TASKS
    settings.SMS_BACKEND = "storefront.sms.LocmemBackend"
    sms.outbox.clear()
    order = order_of(variant_of("1000", stock=5))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.mark_order_paid(order_id=order.pk, amount=1500, reference="QK1") == "paid"
    assert callbacks == []  # queued in the payment's transaction, in one INSERT
    rows = {row.task_path: row for row in DBTaskResult.objects.all()}
    assert sorted(rows) == ["shop.tasks.send_order_email", "shop.tasks.send_order_sms"]
    for row in rows.values():
        assert row.args_kwargs == {"args": [order.pk, "paid"], "kwargs": {}}
        run_like_the_worker(row)
    assert [m.subject for m in mail.outbox] == [f"Payment received for order {order.number}"]
    assert sms.outbox == [
        (
            "254712345678",
            f"Duka Tech: we received KES 1,500 for order {order.number}. "
            "We'll text you when it ships.",
        )
    ]


def test_a_payment_rolled_back_queues_no_email_or_text(settings):
    """The shopper's messages stand or fall with the change they tell of."""
    settings.TASKS = DB_TASKS
    order = order_of(variant_of("1000", stock=5))
    queued = DBTaskResult.objects.count()  # the order's own "received" email

    class Crash(Exception):
        pass

    def pay_then_crash():
        with transaction.atomic():
            assert services.mark_order_paid(order_id=order.pk, amount=1500, reference="QK1")
            assert DBTaskResult.objects.count() == queued + 2
            raise Crash

    with pytest.raises(Crash):
        pay_then_crash()
    assert DBTaskResult.objects.count() == queued
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT


def test_the_expiry_task_expires_an_overdue_order():
    variant = variant_of(stock=5)
    order = order_of(variant, 2, now=timezone.now() - timedelta(minutes=31))
    assert expire_order_task.call(order.pk) is True
    assert Order.objects.get(pk=order.pk).status == S.EXPIRED
    assert stock(variant) == (5, 0)


# delivery_quote --------------------------------------------------------------


def test_quote_uses_the_zone_that_lists_the_county(nairobi):
    DeliveryZone.objects.create(name="Everywhere else", fee=Decimal("600"), is_fallback=True)
    quote = services.delivery_quote(county="Kiambu", subtotal=Decimal("1000"))
    assert quote == services.DeliveryQuote(
        zone="Nairobi", fee=Decimal("250.00"), free_over=None, delivery_days="1 day"
    )


def test_quote_falls_back_for_counties_in_no_zone(nairobi):
    DeliveryZone.objects.create(
        name="Everywhere else", fee=Decimal("600"), is_fallback=True, delivery_days="3-5 days"
    )
    quote = services.delivery_quote(county="Turkana", subtotal=Decimal("1000"))
    assert (quote.zone, quote.fee, quote.delivery_days) == (
        "Everywhere else",
        Decimal("600.00"),
        "3-5 days",
    )


@pytest.mark.parametrize(
    ("subtotal", "fee"),
    [("4999.99", "250.00"), ("5000.00", "0.00"), ("5000.01", "0.00"), ("80000", "0.00")],
)
def test_free_delivery_at_or_above_the_threshold(subtotal, fee):
    DeliveryZone.objects.create(
        name="Nairobi", counties=["Nairobi"], fee=Decimal("250"), free_over=Decimal("5000")
    )
    quote = services.delivery_quote(county="Nairobi", subtotal=Decimal(subtotal))
    assert quote.fee == Decimal(fee) and quote.free_over == Decimal("5000")


def test_free_delivery_reaches_the_order(nairobi):
    DeliveryZone.objects.filter(pk=nairobi.pk).update(free_over=Decimal("5000"))
    order = order_of(variant_of("5000", stock=5))
    assert (order.delivery_fee, order.total, order.amount_payable) == (
        Decimal("0.00"),
        Decimal("5000.00"),
        5000,
    )


def test_without_zones_the_default_fee_applies(settings):
    quote = services.delivery_quote(county="Nairobi", subtotal=Decimal("1000"))
    assert (quote.zone, quote.fee, quote.free_over) == ("Standard", Decimal("500.00"), None)
    settings.DEFAULT_DELIVERY_FEE = "350"
    assert services.delivery_quote(county="Nairobi", subtotal=Decimal("1")).fee == Decimal("350.00")
    del settings.DEFAULT_DELIVERY_FEE
    assert services.delivery_quote(county="Nairobi", subtotal=Decimal("1")).fee == Decimal("500.00")


def test_without_a_fallback_zone_other_counties_pay_the_default(nairobi):
    assert services.delivery_quote(county="Turkana", subtotal=Decimal("1")).fee == Decimal("500.00")


# the state machine --------------------------------------------------------

#: The rules, written out independently of services.TRANSITIONS.
ALLOWED = {
    (S.AWAITING_PAYMENT, S.PAID),
    (S.AWAITING_PAYMENT, S.EXPIRED),
    (S.AWAITING_PAYMENT, S.CANCELLED),
    (S.PAID, S.PACKED),
    (S.PAID, S.CANCELLATION_REQUESTED),
    (S.PAID, S.REFUNDED),
    (S.PACKED, S.SHIPPED),
    (S.PACKED, S.CANCELLATION_REQUESTED),
    (S.PACKED, S.REFUNDED),
    (S.SHIPPED, S.OUT_FOR_DELIVERY),
    (S.SHIPPED, S.DELIVERED),
    (S.OUT_FOR_DELIVERY, S.DELIVERED),
    (S.CANCELLATION_REQUESTED, S.REFUNDED),
    (S.CANCELLATION_REQUESTED, S.PAID),
    # A part-paid order (paid in parts, not all in) is cancelled by request,
    # and a declined request sends it back to awaiting the rest.
    (S.AWAITING_PAYMENT, S.CANCELLATION_REQUESTED),
    (S.CANCELLATION_REQUESTED, S.AWAITING_PAYMENT),
}
#: A legal way to bring a new order to each status.
PATHS = {
    S.AWAITING_PAYMENT: [],
    S.PAID: [S.PAID],
    S.PACKED: [S.PAID, S.PACKED],
    S.SHIPPED: [S.PAID, S.PACKED, S.SHIPPED],
    S.OUT_FOR_DELIVERY: [S.PAID, S.PACKED, S.SHIPPED, S.OUT_FOR_DELIVERY],
    S.DELIVERED: [S.PAID, S.PACKED, S.SHIPPED, S.DELIVERED],
    S.EXPIRED: [S.EXPIRED],
    S.CANCELLED: [S.CANCELLED],
    S.CANCELLATION_REQUESTED: [S.PAID, S.CANCELLATION_REQUESTED],
    S.REFUNDED: [S.PAID, S.REFUNDED],
}
SHIPPED = {S.SHIPPED, S.OUT_FOR_DELIVERY, S.DELIVERED}
RELEASED = {S.EXPIRED, S.CANCELLED, S.REFUNDED}
ON_HAND, OTHERS, QUANTITY = 6, 1, 2


def expected_stock(status) -> tuple[int, int]:
    """Stock of the matrix variant with its order in *status* (and another shopper's hold)."""
    held = status not in SHIPPED and status not in RELEASED
    on_hand = ON_HAND - (QUANTITY if status in SHIPPED else 0)
    return on_hand, OTHERS + (QUANTITY if held else 0)


def order_in(status, variant) -> Order:
    order = order_of(variant, QUANTITY)
    for step in PATHS[status]:
        move_order(order_id=order.pk, to=step)
    order.refresh_from_db()
    assert order.status == status
    return order


def test_the_transition_table_is_the_documented_one():
    assert set(services.TRANSITIONS) == set(S)
    assert {(a, b) for a, tos in services.TRANSITIONS.items() for b in tos} == ALLOWED
    assert set(PATHS) == set(S)


@pytest.mark.parametrize("to", list(S), ids=str)
@pytest.mark.parametrize("from_", list(S), ids=str)
def test_every_status_pair(from_, to):
    variant = variant_of(stock=ON_HAND)
    add_allocation(variant, OTHERS)
    order = order_in(from_, variant)
    assert stock(variant) == expected_stock(from_)
    before = state(order)

    if (from_, to) in ALLOWED:
        move_order(order_id=order.pk, to=to)
        after = state(order)
        assert after["status"] == to
        assert after["events"] == [*before["events"], (from_, to, "")]
        assert stock(variant) == expected_stock(to)
        assert after["stock_released"] == (to in SHIPPED or to in RELEASED)
    else:
        with pytest.raises(IllegalTransition, match=f"can't go from {S(from_).label.lower()}"):
            move_order(order_id=order.pk, to=to)
        assert state(order) == before


def test_a_status_change_records_who_and_why():
    staff = get_user_model().objects.create_user("staff", "staff@example.com", "pw")
    order = order_of(variant_of())
    move_order(order_id=order.pk, to=S.CANCELLED, actor=staff, note="x" * 400)
    event = order.events.latest("id")
    assert (event.from_status, event.to_status, event.actor) == (
        S.AWAITING_PAYMENT,
        S.CANCELLED,
        staff,
    )
    assert event.note == "x" * 300


def test_an_unknown_status_is_an_illegal_transition():
    order = order_of(variant_of())
    before = state(order)
    try:
        with pytest.raises(IllegalTransition):
            move_order(order_id=order.pk, to="lost")
    finally:
        assert state(order) == before


def test_shipping_takes_every_line_off_the_shelf_once():
    phone, case = variant_of("18999", stock=5), variant_of("999", stock=8)
    add_allocation(case, 1)
    order = place(cart_with((phone, 2), (case, 3)))
    assert (stock(phone), stock(case)) == ((5, 2), (8, 4))
    for status in (S.PAID, S.PACKED, S.SHIPPED):
        move_order(order_id=order.pk, to=status)
    assert (stock(phone), stock(case)) == ((3, 0), (5, 1))
    move_order(order_id=order.pk, to=S.OUT_FOR_DELIVERY)
    move_order(order_id=order.pk, to=S.DELIVERED)
    assert (stock(phone), stock(case)) == ((3, 0), (5, 1))


def test_a_release_happens_once():
    variant = variant_of(stock=6)
    order, other = order_of(variant, 2), order_of(variant, 1)
    assert stock(variant) == (6, 3)
    move_order(order_id=order.pk, to=S.CANCELLED)
    assert stock(variant) == (6, 1)
    before = state(order)

    with pytest.raises(IllegalTransition):
        move_order(order_id=order.pk, to=S.CANCELLED)
    assert services.expire_order(order_id=order.pk, now=timezone.now() + timedelta(days=1)) is False
    assert services.mark_order_paid(order_id=order.pk, amount=20500, reference="R") == "not_open"

    assert state(order) == before
    assert stock(variant) == (6, 1)
    assert Order.objects.get(pk=other.pk).status == S.AWAITING_PAYMENT


def test_the_stock_released_flag_prevents_a_second_release():
    """Even if an order is put back to awaiting payment by hand, its stock goes back once."""
    variant = variant_of(stock=6)
    order, _ = order_of(variant, 2), order_of(variant, 1)
    move_order(order_id=order.pk, to=S.CANCELLED)
    Order.objects.filter(pk=order.pk).update(status=S.AWAITING_PAYMENT)

    move_order(order_id=order.pk, to=S.EXPIRED)

    assert stock(variant) == (6, 1)


# mark_order_paid ---------------------------------------------------------------


def test_a_payment_marks_the_order_paid_and_counts_the_sale():
    phone = variant_of("18999", stock=5)
    other_colour = ProductVariant.objects.create(
        product=phone.product, sku="A15-BLUE", price=Decimal("18999"), stock_on_hand=4
    )
    charger = variant_of("999.50", stock=5)
    order = place(cart_with((phone, 2), (other_colour, 1), (charger, 1)))
    assert order.total == Decimal("58496.50")  # 3 × 18,999 + 999.50 + 500 delivery
    assert order.amount_payable == 58497
    paid_at = timezone.now() - timedelta(minutes=2)

    result = services.mark_order_paid(
        order_id=order.pk, amount=Decimal("58497"), reference="QK7ABC123", paid_at=paid_at
    )

    assert result == "paid"
    order.refresh_from_db()
    assert (order.status, order.paid_at) == (S.PAID, paid_at)
    assert order.events.latest("id").note == "Paid by M-Pesa, receipt QK7ABC123"
    assert Product.objects.get(pk=phone.product_id).units_sold == 3
    assert Product.objects.get(pk=charger.product_id).units_sold == 1
    # Paid orders keep their hold on stock until they ship.
    assert (stock(phone), stock(other_colour), stock(charger)) == ((5, 2), (4, 1), (5, 1))


def test_a_second_payment_changes_nothing():
    order = order_of(variant_of("1000", stock=5), 2)
    assert services.mark_order_paid(order_id=order.pk, amount=2500, reference="A") == "paid"
    before = state(order)
    assert before["units_sold"][0][1] == 2

    assert services.mark_order_paid(order_id=order.pk, amount=2500, reference="B") == "already_paid"
    assert services.mark_order_paid(order_id=order.pk, amount=1, reference="C") == "already_paid"

    assert state(order) == before


@pytest.mark.parametrize(
    "status",
    [S.PACKED, S.SHIPPED, S.DELIVERED, S.CANCELLATION_REQUESTED, S.REFUNDED],
    ids=str,
)
def test_a_payment_for_an_order_already_past_payment_changes_nothing(status):
    order = order_in(status, variant_of(stock=ON_HAND))
    before = state(order)
    assert (
        services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="R")
        == "already_paid"
    )
    assert state(order) == before


@pytest.mark.parametrize(
    "amount", [Decimal("1499.50"), 1499, Decimal("1501"), 0, Decimal("-1500")], ids=str
)
def test_a_wrong_amount_leaves_the_order_as_it_was(amount):
    order = order_of(variant_of("999.50", stock=5))  # total 1,499.50, asked 1,500
    before = state(order)
    assert (
        services.mark_order_paid(order_id=order.pk, amount=amount, reference="R")
        == "amount_mismatch"
    )
    assert state(order) == before
    # The rounded-up amount, however spelled, is accepted.
    assert services.mark_order_paid(order_id=order.pk, amount=1500.0, reference="R") == "paid"


@pytest.mark.parametrize("status", [S.EXPIRED, S.CANCELLED], ids=str)
def test_a_late_payment_for_a_closed_order_is_not_taken(status):
    variant = variant_of(stock=5)
    order = order_in(status, variant)
    other = order_of(variant, 1)
    before = state(order)

    result = services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="R")

    assert result == "not_open"
    assert state(order) == before
    assert stock(variant) == (5, 1)  # only the other order's hold
    assert Order.objects.get(pk=other.pk).status == S.AWAITING_PAYMENT


# expire_order / expire_overdue_orders -----------------------------------------


def test_an_order_expires_when_its_time_is_up_and_releases_stock_once():
    variant = variant_of(stock=6)
    placed = timezone.now()
    order, other = order_of(variant, 2, now=placed), order_of(variant, 1)
    assert stock(variant) == (6, 3)

    assert services.expire_order(order_id=order.pk, now=placed + timedelta(minutes=29)) is False
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT
    assert stock(variant) == (6, 3)

    assert services.expire_order(order_id=order.pk, now=placed + timedelta(minutes=30)) is True
    assert services.expire_order(order_id=order.pk, now=placed + timedelta(minutes=31)) is False

    order.refresh_from_db()
    assert (order.status, order.stock_released) == (S.EXPIRED, True)
    assert stock(variant) == (6, 1)
    assert [e[1] for e in state(order)["events"]] == [S.AWAITING_PAYMENT, S.EXPIRED]
    assert Order.objects.get(pk=other.pk).status == S.AWAITING_PAYMENT


def test_a_paid_order_does_not_expire():
    variant = variant_of("1000", stock=5)
    placed = timezone.now() - timedelta(hours=1)
    order = order_of(variant, now=placed)
    assert services.mark_order_paid(order_id=order.pk, amount=1500, reference="R") == "paid"
    before = state(order)

    assert services.expire_order(order_id=order.pk) is False
    assert services.expire_overdue_orders() == 0

    assert state(order) == before and before["status"] == S.PAID
    assert stock(variant) == (5, 1)


def test_expire_overdue_orders_expires_only_past_due_unpaid_orders():
    variant = variant_of("1000", stock=10)
    placed = timezone.now()
    overdue = order_of(variant, 1, now=placed - timedelta(minutes=31))
    due_later = order_of(variant, 2, now=placed)
    paid = order_of(variant, 3, now=placed - timedelta(minutes=31))
    services.mark_order_paid(order_id=paid.pk, amount=3500, reference="R")
    cancelled = order_of(variant, 1, now=placed - timedelta(minutes=31))
    move_order(order_id=cancelled.pk, to=S.CANCELLED)
    assert stock(variant) == (10, 6)

    assert services.expire_overdue_orders(now=placed) == 1
    assert services.expire_overdue_orders(now=placed) == 0

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        overdue.pk: S.EXPIRED,
        due_later.pk: S.AWAITING_PAYMENT,
        paid.pk: S.PAID,
        cancelled.pk: S.CANCELLED,
    }
    assert stock(variant) == (10, 5)
    assert OrderEvent.objects.filter(to_status=S.EXPIRED).count() == 1

    assert services.expire_overdue_orders(now=placed + timedelta(minutes=30)) == 1
    assert Order.objects.get(pk=due_later.pk).status == S.EXPIRED
    assert stock(variant) == (10, 3)


# Concurrency (PostgreSQL) ------------------------------------------------------


def wait_until_waiting_for_a_lock(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.005)
    raise AssertionError(f"backend {pid} never waited for a lock")


def run_queued_behind(hold, *functions):
    """Run *functions* in threads, each queued in turn behind a row lock.

    ``hold()`` locks a row in this thread's transaction; each function starts
    once the previous one is waiting for the lock, so when the lock is
    released they take it in the order given. Returns results or exceptions.
    """
    results = [None] * len(functions)
    pids = [None] * len(functions)
    connected = [threading.Event() for _ in functions]

    def worker(index, function):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids[index] = cursor.fetchone()[0]
            connected[index].set()
            results[index] = function()
        except Exception as error:  # noqa: BLE001 - reported to the test
            results[index] = error
        finally:
            connected[index].set()
            close_old_connections()
            connection.close()

    threads = []
    with transaction.atomic():
        hold()
        for index, function in enumerate(functions):
            thread = threading.Thread(target=worker, args=(index, function))
            thread.start()
            threads.append(thread)
            connected[index].wait(10)
            assert pids[index] is not None, results[index]
            wait_until_waiting_for_a_lock(pids[index])
    for thread in threads:
        thread.join(30)
    return results


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_sixteen_shoppers_race_for_the_last_unit():
    """Without the variant lock the losers would hit the allocated ≤ on-hand constraint
    (IntegrityError) or oversell; with it, each sees the unit taken and is refused."""
    variant = variant_of("18999", stock=1)
    carts = [cart_with((variant, 1)) for _ in range(16)]

    results = run_in_threads(*[lambda c=c: place(c) for c in carts])

    winners = [r for r in results if isinstance(r, Order)]
    losers = [r for r in results if isinstance(r, InsufficientStock)]
    assert (len(winners), len(losers)) == (1, 15), results
    assert all(loser.shortages == [(str(variant), 1, 0)] for loser in losers)
    assert stock(variant) == (1, 1)
    assert Order.objects.count() == 1 and OrderLine.objects.get().quantity == 1
    assert OrderEvent.objects.count() == 1
    winning_cart = carts[results.index(winners[0])]
    assert [cart for cart in carts if not cart_lines(cart)] == [winning_cart]


def assert_race_outcome(order, variant, expired, paid) -> None:
    order.refresh_from_db()
    if expired is True:
        assert paid == "not_open"
        assert (order.status, order.stock_released, order.paid_at) == (S.EXPIRED, True, None)
        assert stock(variant) == (5, 1)  # the other order's hold only
    else:
        assert (expired, paid) == (False, "paid")
        assert order.status == S.PAID and order.paid_at is not None
        assert not order.stock_released
        assert stock(variant) == (5, 3)
    assert order.events.count() == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["expiry", "payment"])
def test_expiry_and_a_late_payment_queued_on_the_order(first):
    variant = variant_of("1000", stock=5)
    order = order_of(variant, 2, now=timezone.now() - timedelta(minutes=31))
    order_of(variant, 1)

    def expire():
        return services.expire_order(order_id=order.pk)

    def pay():
        return services.mark_order_paid(order_id=order.pk, amount=2500, reference="R")

    def hold():
        Order.objects.select_for_update().get(pk=order.pk)

    if first == "expiry":
        expired, paid = run_queued_behind(hold, expire, pay)
        assert (expired, paid) == (True, "not_open")
    else:
        paid, expired = run_queued_behind(hold, pay, expire)
        assert (expired, paid) == (False, "paid")
    assert_race_outcome(order, variant, expired, paid)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_expiry_racing_a_late_payment():
    for index in range(6):
        variant = variant_of("1000", stock=5)
        order = order_of(variant, 2, now=timezone.now() - timedelta(minutes=31))
        # Another shopper's hold (their own phone: one phone has at most
        # MAX_UNPAID_ORDERS_PER_PHONE unpaid orders).
        order_of(variant, 1, phone=f"2547083{index:05d}")
        expired, paid = run_in_threads(
            lambda pk=order.pk: services.expire_order(order_id=pk),
            lambda pk=order.pk: services.mark_order_paid(order_id=pk, amount=2500, reference="R"),
        )
        assert_race_outcome(order, variant, expired, paid)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_cart_submitted_twice_at_once_places_one_order():
    variant = variant_of("1000", stock=5)
    cart = cart_with((variant, 1))

    def hold():
        ProductVariant.objects.select_for_update().get(pk=variant.pk)

    results = run_queued_behind(hold, lambda: place(cart), lambda: place(cart))

    assert Order.objects.count() == 1, results
    assert stock(variant) == (5, 1)
    assert sorted(type(r).__name__ for r in results) == ["EmptyCart", "Order"]
