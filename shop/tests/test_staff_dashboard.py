"""The staff dashboard on the admin index and the "Needs attention" page."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.models import Callback, PaymentAttempt
from shop import staff
from shop.models import Order, OrderLine
from shop.tests.factories import make_product

pytestmark = pytest.mark.django_db

NAIROBI = ZoneInfo("Africa/Nairobi")
Status = Order.Status
HX = {"HTTP_HX_REQUEST": "true"}


def nairobi(*args) -> datetime:
    return datetime(*args, tzinfo=NAIROBI)


def make_order(*, total="1000.00", status=Status.PAID, paid_at=None, lines=(), **fields) -> Order:
    """Create an order directly (no services): *lines* are (variant, quantity) pairs."""
    if paid_at is None and status not in (Status.AWAITING_PAYMENT, Status.EXPIRED):
        paid_at = timezone.now()
    total = Decimal(total)
    order = Order.objects.create(
        email="amina@example.com",
        phone="254712345678",
        status=status,
        recipient_name="Amina Wanjiru",
        recipient_phone="254712345678",
        county="Nairobi",
        town="Westlands",
        subtotal=total,
        delivery_fee=0,
        total=total,
        amount_payable=int(total.to_integral_value()),
        paid_at=paid_at,
        **fields,
    )
    for variant, quantity in lines:
        OrderLine.objects.create(
            order=order,
            variant=variant,
            product_name=variant.product.name,
            sku=variant.sku,
            unit_price=variant.price,
            quantity=quantity,
            line_total=variant.price * quantity,
        )
    return order


def make_attempt(order, **fields) -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        order=order,
        phone="254712345678",
        amount=order.amount_payable,
        resend_after=timezone.now(),
        **fields,
    )


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user(
        "wanjiku", "wanjiku@example.com", "pw", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


# Figures -------------------------------------------------------------------------


def test_revenue_counts_orders_by_the_nairobi_day_they_were_paid():
    now = nairobi(2025, 3, 15, 10, 0)  # 07:00 UTC
    make_order(total="1000", paid_at=nairobi(2025, 3, 15, 0, 30))  # 14 Mar 21:30 UTC: today
    make_order(total="200.50", paid_at=nairobi(2025, 3, 15, 9, 59))
    make_order(total="4000", paid_at=nairobi(2025, 3, 14, 23, 30))  # yesterday
    make_order(total="8000", paid_at=nairobi(2025, 3, 15, 8), status=Status.REFUNDED)
    make_order(total="300", paid_at=nairobi(2025, 3, 15, 8), status=Status.CANCELLATION_REQUESTED)
    make_order(total="9999", status=Status.AWAITING_PAYMENT)
    make_order(total="7777", status=Status.EXPIRED)

    figures = staff.dashboard_data(now=now)["revenue"]

    assert figures == {
        "today": Decimal("1500.50"),
        "today_orders": 3,
        "month": Decimal("5500.50"),
        "month_orders": 4,
    }


def test_month_revenue_starts_at_midnight_in_nairobi_not_utc():
    now = nairobi(2025, 4, 1, 1, 0)  # still 31 March in UTC
    make_order(total="111", paid_at=nairobi(2025, 4, 1, 0, 10))  # 31 Mar 21:10 UTC: April
    make_order(total="2000", paid_at=nairobi(2025, 3, 31, 23, 50))  # March

    figures = staff.dashboard_data(now=now)["revenue"]

    assert figures["today"] == figures["month"] == Decimal("111")
    assert figures["month_orders"] == 1


def test_revenue_chart_has_one_bar_per_day_for_thirty_days():
    today = nairobi(2025, 3, 15, 12).date()
    make_order(total="500", paid_at=nairobi(2025, 3, 15, 0, 5))
    make_order(total="1500", paid_at=nairobi(2025, 3, 15, 23, 55))
    make_order(total="1000", paid_at=nairobi(2025, 2, 14, 9))  # the first day shown
    make_order(total="9000", paid_at=nairobi(2025, 2, 13, 23, 59))  # one day too old
    make_order(total="9000", paid_at=nairobi(2025, 3, 10), status=Status.REFUNDED)

    chart = staff.revenue_chart(today=today)

    assert len(chart.bars) == 30
    assert chart.first_day == nairobi(2025, 2, 14).date()
    assert chart.last_day == today
    by_day = {bar.day: bar for bar in chart.bars}
    assert by_day[today].revenue == Decimal("2000") and by_day[today].orders == 2
    assert by_day[chart.first_day].revenue == Decimal("1000")
    assert chart.total == Decimal("3000") and chart.peak == Decimal("2000")
    assert by_day[today].height == chart.height and by_day[today].y == 0
    assert by_day[chart.first_day].height == chart.height / 2
    assert sum(1 for bar in chart.bars if bar.height == 0) == 28


def test_top_products_are_ranked_by_units_over_the_last_thirty_days():
    now = timezone.now()
    cable, phone, old = (
        make_product(name=name, image=False).variants.get() for name in ("Cable", "Phone", "Old")
    )
    make_order(lines=[(cable, 2), (phone, 1)], paid_at=now - timedelta(hours=1))
    make_order(lines=[(cable, 3)], paid_at=now - timedelta(days=3))
    make_order(lines=[(phone, 9)], paid_at=now, status=Status.REFUNDED)
    make_order(lines=[(old, 50)], paid_at=now - timedelta(days=31))
    make_order(lines=[(phone, 4)], status=Status.AWAITING_PAYMENT)

    top = staff.dashboard_data(now=now)["top_products"]

    assert [(row["product_name"], row["units"]) for row in top] == [("Cable", 5), ("Phone", 1)]
    assert top[0]["url"] == reverse("admin:shop_product_change", args=[cable.product_id])


def test_orders_by_status_lists_every_status():
    make_order(status=Status.PAID)
    make_order(status=Status.PAID)
    make_order(status=Status.AWAITING_PAYMENT)

    counts = {row["status"]: row["count"] for row in staff.orders_by_status()}

    assert counts[Status.PAID] == 2 and counts[Status.AWAITING_PAYMENT] == 1
    assert counts[Status.DELIVERED] == 0 and len(counts) == len(Status.choices)


def test_payments_pending_and_flagged_not_reviewed_are_counted():
    order = make_order()
    make_attempt(order, status=PaymentAttempt.Status.PENDING)
    make_attempt(order, status=PaymentAttempt.Status.PAID, flag=PaymentAttempt.Flag.NO_RECEIPT)
    make_attempt(
        order,
        status=PaymentAttempt.Status.PAID,
        flag=PaymentAttempt.Flag.AMOUNT_MISMATCH,
        reviewed_at=timezone.now(),
    )
    make_attempt(order, status=PaymentAttempt.Status.FAILED)

    data = staff.dashboard_data()

    assert data["payments"] == {"pending": 1, "flagged": 1}
    assert [a.flag for a in data["recent_flagged"]] == [PaymentAttempt.Flag.NO_RECEIPT]


# Pages -------------------------------------------------------------------------


def test_admin_index_shows_the_dashboard_without_javascript(staff_client):
    make_order(total="12500", paid_at=timezone.now())

    page = staff_client.get(reverse("admin:index"))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="staff-dashboard"' in html
    assert "KES 12,500.00" in html
    assert 'hx-trigger="every 30s"' in html
    assert "/static/django_htmx/htmx" in html  # vendored, no CDN
    assert reverse("staff:attention") in html
    assert 'class="app-shop' in html  # the app list is still there


def test_the_chart_is_server_rendered_svg_with_thirty_bars(staff_client):
    make_order(total="700", paid_at=timezone.now())

    html = staff_client.get(reverse("admin:index")).content.decode()

    svg = re.search(r"<svg class=\"staff-chart\".*?</svg>", html, re.S).group(0)
    assert len(re.findall(r"<rect class=\"staff-chart-bar\"", svg)) == 30
    assert "KES 700.00" in svg
    assert "<script" not in svg


def test_the_fragment_answers_htmx_polls_with_fresh_figures(staff_client):
    url = reverse("staff:dashboard")
    first = staff_client.get(url, **HX)
    assert first.status_code == 200
    assert "KES 0.00" in first.content.decode()

    make_order(total="3450", paid_at=timezone.now())
    again = staff_client.get(url, **HX)

    html = again.content.decode()
    assert again.status_code == 200
    assert html.lstrip().startswith('<section id="staff-dashboard"')
    assert "<html" not in html and "KES 3,450.00" in html
    assert f'hx-get="{url}"' in html  # keeps polling after the swap
    assert "no-cache" in again["Cache-Control"]


def test_the_fragment_outside_htmx_sends_to_the_full_page(staff_client):
    response = staff_client.get(reverse("staff:dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_visitors_are_sent_to_the_staff_login(client):
    for url in (reverse("staff:dashboard"), reverse("staff:attention"), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    poll = client.get(reverse("staff:dashboard"), **HX)
    assert poll["HX-Redirect"].startswith(reverse("admin:login"))
    assert "staff-dashboard" not in poll.content.decode()


def test_a_shopper_who_is_not_staff_is_refused(client):
    make_order(total="5000")
    shopper = get_user_model().objects.create_user("shopper", "shopper@example.com", "pw")
    client.force_login(shopper)

    for url in (reverse("staff:dashboard"), reverse("staff:attention")):
        for headers in ({}, HX):
            response = client.get(url, **headers)
            assert response.status_code == 403
            assert "5,000" not in response.content.decode()
    index = client.get(reverse("admin:index"))
    assert index.status_code == 302 and "staff-dashboard" not in index.content.decode()


# Query bounds ------------------------------------------------------------------


def _fill_shop(n: int, variant) -> None:
    now = timezone.now()
    for i in range(n):
        order = make_order(
            total=str(1000 + i),
            paid_at=now - timedelta(days=i % 40, hours=i % 7),
            status=[Status.PAID, Status.PACKED, Status.CANCELLATION_REQUESTED, Status.REFUNDED][
                i % 4
            ],
            lines=[(variant, 1 + i % 3)],
        )
        make_attempt(order, flag=PaymentAttempt.Flag.NO_RECEIPT if i % 2 else "")
        Callback.objects.create(
            body="{}",
            outcome=Callback.Outcome.UNKNOWN,
            reports_payment=True,
            note="Successful payment (receipt X, KES 1) for a push the shop has no record of",
        )


def _queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (reverse("admin:index"), {}),
        (reverse("staff:dashboard"), HX),
        (reverse("staff:attention"), {}),
        (reverse("admin:shop_order_changelist"), {}),
    ],
)
def test_staff_pages_run_the_same_queries_for_3_or_30_orders(staff_client, url, headers):
    variant = make_product(image=False, stock=1000).variants.get()
    _fill_shop(3, variant)
    few = _queries(staff_client, url, **headers)
    _fill_shop(27, variant)
    many = _queries(staff_client, url, **headers)
    assert few == many
    assert many <= 20


# Needs attention ----------------------------------------------------------------


def test_needs_attention_lists_what_staff_must_act_on_with_links(staff_client, settings):
    settings.SHIP_WITHIN_DAYS = 2
    now = timezone.now()
    flagged_order = make_order(number="DTFLAGGED1")
    flagged = make_attempt(
        flagged_order,
        status=PaymentAttempt.Status.PAID,
        flag=PaymentAttempt.Flag.DUPLICATE_RECEIPT,
        flag_note="Receipt QWE123 already used",
    )
    make_attempt(
        make_order(number="DTREVIEWED"),
        flag=PaymentAttempt.Flag.AMOUNT_MISMATCH,
        reviewed_at=now,
    )
    unknown = Callback.objects.create(
        body="{}",
        checkout_request_id="ws_CO_UNMATCHED",
        outcome=Callback.Outcome.UNKNOWN,
        reports_payment=True,
        note="Successful payment (receipt RBK1, KES 1500) for a push the shop has no record of",
    )
    Callback.objects.create(
        body="{}",
        checkout_request_id="ws_CO_FAILEDONE",
        outcome=Callback.Outcome.UNKNOWN,
        note="No payment attempt has this CheckoutRequestID.",
    )
    refund = make_order(number="DTREFUNDME", status=Status.CANCELLATION_REQUESTED)
    late = make_order(number="DTLATE0001", paid_at=now - timedelta(days=3))
    late_packed = make_order(
        number="DTLATE0002", status=Status.PACKED, paid_at=now - timedelta(days=2, hours=1)
    )
    make_order(number="DTONTIME01", paid_at=now - timedelta(days=1))
    make_order(number="DTSHIPPED1", status=Status.SHIPPED, paid_at=now - timedelta(days=9))

    page = staff_client.get(reverse("staff:attention"))

    html = page.content.decode()
    assert page.status_code == 200
    assert reverse("admin:payments_paymentattempt_change", args=[flagged.pk]) in html
    assert "Receipt already used by another payment" in html
    assert "DTREVIEWED" not in html
    assert reverse("admin:payments_callback_change", args=[unknown.pk]) in html
    assert "ws_CO_FAILEDONE" not in html
    assert reverse("admin:shop_order_change", args=[refund.pk]) in html
    assert reverse("admin:shop_order_change", args=[late.pk]) in html
    assert reverse("admin:shop_order_change", args=[late_packed.pk]) in html
    assert "DTONTIME01" not in html and "DTSHIPPED1" not in html

    counts = staff.dashboard_data(now=now)["attention"]
    assert counts == {"flagged": 1, "unknown_paid": 1, "cancellations": 1, "late": 2}
    settings.SHIP_WITHIN_DAYS = 5
    assert staff.dashboard_data(now=now)["attention"]["late"] == 0


def test_needs_attention_links_to_the_admin_list_when_there_are_more(staff_client, monkeypatch):
    monkeypatch.setattr(staff, "ATTENTION_ROWS", 2)
    for _ in range(3):
        make_order(status=Status.CANCELLATION_REQUESTED)

    html = staff_client.get(reverse("staff:attention")).content.decode()

    assert len(re.findall(r'href="/staff/shop/order/\d+/change/"', html)) == 2
    all_url = reverse("admin:shop_order_changelist") + "?status__exact=cancellation_requested"
    assert all_url in html
    assert staff_client.get(all_url).status_code == 200


def test_the_late_orders_list_link_is_a_valid_admin_filter(staff_client):
    url = staff.attention_data()["all_urls"]["late"]
    response = staff_client.get(url)
    assert response.status_code == 200  # an unknown lookup would redirect to ?e=1
