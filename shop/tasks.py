"""Background work of the shop (django-tasks, run by the ``worker`` process)."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from storefront import emails, jobs, sms

from . import receipts, search, services
from .models import Order, ProductVariant
from .order_access import order_link

logger = logging.getLogger(__name__)

#: The order emails (templates/emails/order.txt and .html pick the words).
EMAILS = {
    "received",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "cancellation_requested",
    "refunded",
}
SMS = {
    "paid": _(
        "{site}: we received KES {amount:,} for order {number}{receipt}. We'll text you when "
        "it ships."
    ),
    "shipped": _(
        "{site}: order {number} is on its way with {courier}, tracking {tracking}. "
        "The rider will call you."
    ),
}


def enqueue_with_transaction(*calls) -> None:
    """Queue tasks with the current transaction, in one INSERT.

    Each call is ``(task, args)`` (a task, or ``task.using(run_after=...)``).
    With the database backend (the shop's) the rows are written inside the
    caller's transaction, so a worker sees them exactly when it commits: an
    order and its emails, expiry and payment query stand or fall together,
    and a Pay costs one query for all of them. Any other backend queues
    them one by one once the transaction commits.
    """
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.compat import normalize_json, task_enqueued
    from django_tasks_db.models import DBTaskResult, get_date_max

    calls = [(queued, tuple(args)) for queued, args in calls]
    if not all(isinstance(queued.get_backend(), DatabaseBackend) for queued, _args in calls):
        for queued, args in calls:
            transaction.on_commit(lambda queued=queued, args=args: queued.enqueue(*args))
        return
    rows = []
    for queued, args in calls:
        backend = queued.get_backend()
        backend.validate_task(queued)
        rows.append(
            DBTaskResult(
                args_kwargs=normalize_json({"args": args, "kwargs": {}}),
                priority=queued.priority,
                task_path=queued.module_path,
                queue_name=queued.queue_name,
                # What the backend's pre_save receiver sets; bulk inserts skip it.
                run_after=queued.run_after or get_date_max(),
                backend_name=backend.alias,
            )
        )
    DBTaskResult.objects.bulk_create(rows)
    for (queued, _args), row in zip(calls, rows, strict=True):
        task_enqueued.send(type(queued.get_backend()), task_result=row.task_result)


@task()
@jobs.retry(on=(OSError,))
def send_order_email(order_id: int, kind: str) -> None:
    """Email the shopper about their order (one of ``EMAILS``).

    Tried again later while the mail server can't be reached (``OSError``
    covers ``smtplib.SMTPException``). A worker killed between the send and
    the end of the task makes it run again: the shopper may then get the
    email twice, never zero times.
    """
    if kind not in EMAILS:
        raise ValueError(f"unknown order email {kind!r}")
    order = Order.objects.get(pk=order_id)
    lines = list(order.lines.select_related("variant__product"))
    for line in lines:
        line.review_url = ""
        if line.variant:
            reviews = reverse("shop:product-reviews", args=[line.variant.product.slug])
            line.review_url = f"{settings.SITE_URL}{reviews}#write-review"
    emails.send_email(
        "order",
        to=[order.email],
        context={
            "order": order,
            "kind": kind,
            "lines": lines,
            "receipt": order.payment_attempts.receipts(),
            "shipment": order.shipments.newest(),
            "refund": order.refunds.order_by("-created", "-id").first(),
            "order_url": settings.SITE_URL + order_link(order),
            **receipts.email_context(order),  # VAT included, the receipt's link once paid
        },
        language=order.language,
    )


@task()
@jobs.retry(on=(sms.SmsError, OSError))
def send_order_sms(order_id: int, kind: str) -> None:
    """Text the shopper's M-Pesa phone about their order (``paid``, ``shipped``).

    Tried again later while the SMS gateway refuses or can't be reached.
    """
    order = Order.objects.get(pk=order_id)
    shipment = order.shipments.newest()
    receipt = order.payment_attempts.receipts()
    with translation.override(order.language):
        message = str(SMS[kind]).format(
            site=settings.SITE_NAME,
            amount=order.amount_payable,
            number=order.number,
            receipt=_(", receipt {receipt}").format(receipt=receipt) if receipt else "",
            courier=shipment.get_courier_display() if shipment else "",
            tracking=shipment.tracking_number if shipment else "",
        )
    sms.send_sms(to=order.phone, message=message)


def low_stock_variants() -> list[ProductVariant]:
    """Return the sellable variants at or below their low-stock threshold."""
    return list(
        ProductVariant.objects.running_low()
        .filter(is_active=True, product__is_active=True)
        .select_related("product")
        .order_by("product__name", "sku")
    )


def next_report_time(now: datetime | None = None) -> datetime:
    """Return the next ``LOW_STOCK_REPORT_HOUR`` o'clock, shop time."""
    local = timezone.localtime(now or timezone.now())
    at = local.replace(hour=settings.LOW_STOCK_REPORT_HOUR, minute=0, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


@task()
@jobs.retry(on=(OSError,))
def send_low_stock_report(reschedule: bool = False) -> int:
    """Email staff the variants running out; return the count.

    The scheduler (``manage.py scheduler``) queues it once a day at
    ``LOW_STOCK_REPORT_HOUR``; a failed send is tried again and never stops
    the next day's. *reschedule* is accepted for reports queued by older
    releases and ignored.
    """
    variants = low_stock_variants()
    recipients = settings.STAFF_EMAILS or list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if variants and recipients:
        emails.send_email(
            "low_stock",
            to=recipients,
            context={
                "variants": variants,
                "out": [v for v in variants if not v.in_stock],
                "admin_url": settings.SITE_URL
                + reverse("admin:shop_productvariant_changelist")
                + "?stock=low",
            },
        )
    return len(variants)


@task()
def expire_order_task(order_id: int) -> bool:
    """Expire the order if it is still unpaid when its time is up."""
    return services.expire_order(order_id=order_id)


@task()
@jobs.retry(on=(DatabaseError,))
def expire_overdue_orders_task() -> int:
    """Expire every unpaid order past its window (the scheduler's sweep); return how many."""
    return services.expire_overdue_orders()


@task()
def rebuild_search_vocabulary() -> int:
    """Build the search vocabulary of the current catalogue version; return its word count.

    Queued by the first search that finds the catalogue changed since the
    last build (``shop.search.vocabulary``), once per catalogue version.
    """
    return len(search.rebuild_vocabulary().words)
