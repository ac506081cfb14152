"""Background work of the shop (django-tasks, run by the ``worker`` process)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django_tasks import task

from . import services
from .models import Order
from .order_access import order_link

logger = logging.getLogger(__name__)

SUBJECTS = {
    "received": "We received your order {number}",
    "paid": "Payment received for order {number}",
}


@task()
def send_order_email(order_id: int, kind: str) -> None:
    """Email the shopper about their order (``received`` or ``paid``)."""
    order = Order.objects.prefetch_related("lines").get(pk=order_id)
    paid = order.payment_attempts.filter(status="paid").order_by("completed_at").first()
    context = {
        "order": order,
        "kind": kind,
        "receipt": paid.receipt_number if paid else "",
        "order_url": settings.SITE_URL + order_link(order),
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
    }
    send_mail(
        SUBJECTS[kind].format(number=order.number),
        render_to_string("emails/order.txt", context),
        None,
        [order.email],
    )


@task()
def expire_order_task(order_id: int) -> bool:
    """Expire the order if it is still unpaid when its time is up."""
    return services.expire_order(order_id=order_id)
