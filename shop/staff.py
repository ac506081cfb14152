"""The staff's working day in the admin: the dashboard and "Needs attention".

Revenue rule: an order counts as revenue from the moment it was paid
(``Order.paid_at``), on that day in the shop's time zone (``TIME_ZONE``,
Africa/Nairobi), for its full ``total`` (goods plus delivery), unless it was
later refunded or cancelled (``REFUNDED_OR_CANCELLED``). An order whose
cancellation is only requested still counts until the refund is recorded.
Orders never paid (awaiting payment, expired) have no ``paid_at`` and never
count.

Every figure costs a fixed number of queries, whatever the number of
orders: the dashboard is polled every 30 seconds by every open admin tab.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from payments.models import NEEDS_REVIEW, Callback, PaymentAttempt

from .models import Order, OrderLine

Status = Order.Status

#: Paid orders that no longer count as revenue.
REFUNDED_OR_CANCELLED = (Status.REFUNDED, Status.CANCELLED)
#: Paid orders still waiting to be handed to a courier.
NOT_YET_SHIPPED = (Status.PAID, Status.PACKED)
CHART_DAYS = 30
TOP_PRODUCTS = 5
#: Rows shown per list on the "Needs attention" page (the admin lists the rest).
ATTENTION_ROWS = 50
#: How often the dashboard fragment is polled.
POLL_SECONDS = 30


def shop_timezone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date) -> datetime:
    """Return the aware start of *day* in the shop's time zone."""
    return datetime.combine(day, time.min, tzinfo=shop_timezone())


def revenue_orders():
    """Return the orders that count as revenue (see the module docstring)."""
    return Order.objects.filter(paid_at__isnull=False).exclude(status__in=REFUNDED_OR_CANCELLED)


# Figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    day: date
    revenue: Decimal
    orders: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class RevenueChart:
    """The last CHART_DAYS days of revenue, laid out as SVG bars."""

    bars: list[ChartBar]
    peak: Decimal
    total: Decimal
    width: int = 600
    height: int = 160

    @property
    def first_day(self) -> date:
        return self.bars[0].day

    @property
    def last_day(self) -> date:
        return self.bars[-1].day


def revenue_chart(*, today: date, width: int = 600, height: int = 160) -> RevenueChart:
    """Return revenue per Nairobi day for the CHART_DAYS days up to *today* (one query)."""
    first = today - timedelta(days=CHART_DAYS - 1)
    rows = (
        revenue_orders()
        .filter(paid_at__gte=day_start(first), paid_at__lt=day_start(today + timedelta(days=1)))
        .annotate(day=TruncDate("paid_at", tzinfo=shop_timezone()))
        .values("day")
        .annotate(revenue=Sum("total"), orders=Count("pk"))
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    revenues = [by_day.get(day, {}).get("revenue") or Decimal(0) for day in days]
    peak = max(revenues)
    slot = width / CHART_DAYS
    bars = []
    for index, (day, revenue) in enumerate(zip(days, revenues, strict=True)):
        bar_height = round(float(revenue / peak) * height, 1) if peak else 0.0
        bars.append(
            ChartBar(
                day=day,
                revenue=revenue,
                orders=by_day.get(day, {}).get("orders", 0),
                x=round(index * slot + 1, 1),
                y=round(height - bar_height, 1),
                width=round(slot - 2, 1),
                height=bar_height,
            )
        )
    return RevenueChart(bars=bars, peak=peak, total=sum(revenues), width=width, height=height)


def revenue_summary(*, today: date) -> dict:
    """Return revenue and paid orders for *today* and its month so far (one query)."""
    month_start = day_start(today.replace(day=1))
    today_start = day_start(today)
    is_today = Q(paid_at__gte=today_start)
    totals = (
        revenue_orders()
        .filter(paid_at__gte=month_start, paid_at__lt=day_start(today + timedelta(days=1)))
        .aggregate(
            today=Sum("total", filter=is_today),
            today_orders=Count("pk", filter=is_today),
            month=Sum("total"),
            month_orders=Count("pk"),
        )
    )
    return {
        "today": totals["today"] or Decimal(0),
        "today_orders": totals["today_orders"],
        "month": totals["month"] or Decimal(0),
        "month_orders": totals["month_orders"],
    }


def orders_by_status() -> list[dict]:
    """Return every order status with its number of orders, zero included (one query)."""
    counts = dict(
        Order.objects.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    changelist = reverse("admin:shop_order_changelist")
    return [
        {
            "status": value,
            "label": label,
            "count": counts.get(value, 0),
            "url": f"{changelist}?status__exact={value}",
        }
        for value, label in Status.choices
    ]


def top_products(*, since: datetime, limit: int = TOP_PRODUCTS) -> list[dict]:
    """Return the products sold in most units in revenue orders paid since *since*."""
    rows = (
        OrderLine.objects.filter(order__paid_at__gte=since, order__paid_at__isnull=False)
        .exclude(order__status__in=REFUNDED_OR_CANCELLED)
        .values("variant__product_id", "product_name")
        .annotate(units=Sum("quantity"), revenue=Sum("line_total"))
        .order_by("-units", "-revenue", "product_name")[:limit]
    )
    return [
        {
            **row,
            "url": reverse("admin:shop_product_change", args=[row["variant__product_id"]])
            if row["variant__product_id"]
            else "",
        }
        for row in rows
    ]


def flagged_payments():
    """Return the payment attempts flagged for staff and not reviewed yet."""
    return PaymentAttempt.objects.needing_review()


def unknown_paid_callbacks():
    """Return callbacks reporting a payment for a push the shop has no record of."""
    return Callback.objects.filter(outcome=Callback.Outcome.UNKNOWN, reports_payment=True)


def late_shipments(*, now: datetime):
    """Return paid orders not shipped SHIP_WITHIN_DAYS days after payment."""
    due = now - timedelta(days=settings.SHIP_WITHIN_DAYS)
    return Order.objects.filter(status__in=NOT_YET_SHIPPED, paid_at__lte=due)


def dashboard_data(*, now: datetime | None = None) -> dict:
    """Return everything the dashboard shows, in a fixed number of queries."""
    now = now or timezone.now()
    today = timezone.localtime(now, shop_timezone()).date()
    statuses = orders_by_status()
    payments = PaymentAttempt.objects.aggregate(
        pending=Count("pk", filter=Q(status=PaymentAttempt.Status.PENDING)),
        flagged=Count("pk", filter=NEEDS_REVIEW),
    )
    recent_flagged = list(
        flagged_payments().select_related("order").order_by("-created", "-id")[:TOP_PRODUCTS]
    )
    by_status = {s["status"]: s["count"] for s in statuses}
    attention = {
        "flagged": payments["flagged"],
        "unknown_paid": unknown_paid_callbacks().count(),
        "cancellations": by_status[Status.CANCELLATION_REQUESTED],
        "late": late_shipments(now=now).count(),
    }
    attempts = reverse("admin:payments_paymentattempt_changelist")
    return {
        "now": now,
        "today": today,
        "revenue": revenue_summary(today=today),
        "statuses": statuses,
        "top_products": top_products(since=day_start(today - timedelta(days=CHART_DAYS - 1))),
        "chart": revenue_chart(today=today),
        "chart_days": CHART_DAYS,
        "payments": payments,
        "pending_url": f"{attempts}?status__exact={PaymentAttempt.Status.PENDING}",
        "flagged_url": f"{attempts}?review=yes",
        "recent_flagged": recent_flagged,
        "attention": attention,
        "attention_total": sum(attention.values()),
        "ship_within_days": settings.SHIP_WITHIN_DAYS,
        "poll_seconds": POLL_SECONDS,
    }


def attention_data(*, now: datetime | None = None) -> dict:
    """Return the lists of the "Needs attention" page, ATTENTION_ROWS rows each."""
    now = now or timezone.now()
    sections = {
        "flagged": flagged_payments().select_related("order").order_by("created", "id"),
        "unknown_paid": unknown_paid_callbacks().order_by("received_at", "id"),
        "cancellations": Order.objects.filter(status=Status.CANCELLATION_REQUESTED).order_by(
            "updated", "id"
        ),
        "late": late_shipments(now=now).order_by("paid_at", "id"),
    }
    data = {"now": now, "ship_within_days": settings.SHIP_WITHIN_DAYS, "limit": ATTENTION_ROWS}
    for name, queryset in sections.items():
        rows = list(queryset[: ATTENTION_ROWS + 1])
        data[name] = rows[:ATTENTION_ROWS]
        data[f"{name}_more"] = len(rows) > ATTENTION_ROWS
    attempts = reverse("admin:payments_paymentattempt_changelist")
    callbacks = reverse("admin:payments_callback_changelist")
    orders = reverse("admin:shop_order_changelist")
    data["all_urls"] = {
        "flagged": f"{attempts}?review=yes",
        "unknown_paid": f"{callbacks}?outcome__exact={Callback.Outcome.UNKNOWN}",
        "cancellations": f"{orders}?status__exact={Status.CANCELLATION_REQUESTED}",
        "late": f"{orders}?status__in={','.join(NOT_YET_SHIPPED)}",
    }
    return data


# Views --------------------------------------------------------------------------


def staff_required(view):
    """Let active staff in; send visitors to the staff login; refuse everyone else.

    An htmx poll whose session has ended gets the login page as a full
    navigation (``HX-Redirect``) rather than swapped into the dashboard.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            login_url = reverse("admin:login")
            if request.htmx:
                return HttpResponseClientRedirect(f"{login_url}?next={reverse('admin:index')}")
            return redirect_to_login(request.get_full_path(), login_url)
        if not admin.site.has_permission(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return never_cache(wrapped)


def index(request):
    """Show the admin index with the dashboard (rendered in full: no JS needed)."""
    return admin.site.index(request, extra_context={"dashboard": dashboard_data()})


@require_GET
@staff_required
def dashboard_fragment(request):
    """Answer the dashboard's htmx poll with a fresh dashboard."""
    if not request.htmx:
        return redirect("admin:index")
    return render(request, "admin/_dashboard.html", {"dashboard": dashboard_data()})


@require_GET
@staff_required
def needs_attention(request):
    """List what staff must look at: payments, callbacks, refunds, late parcels."""
    context = {
        **admin.site.each_context(request),
        **attention_data(),
        "title": "Needs attention",
    }
    request.current_app = admin.site.name
    return render(request, "admin/needs_attention.html", context)


app_name = "staff"
urlpatterns = [
    # Served in place of the admin's own index (same URL), which it calls.
    path("", admin.site.admin_view(index), name="index"),
    path("dashboard/", dashboard_fragment, name="dashboard"),
    path("attention/", needs_attention, name="attention"),
]
