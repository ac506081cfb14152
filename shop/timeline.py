"""The order's story for the shopper: the usual path, with what happened when."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Order, OrderEvent, Shipment

Status = Order.Status

#: The path of an order that goes well.
PATH = [
    (Status.AWAITING_PAYMENT, _("Order placed")),
    (Status.PAID, _("Paid")),
    (Status.PACKED, _("Packed")),
    (Status.SHIPPED, _("Shipped")),
    (Status.OUT_FOR_DELIVERY, _("Out for delivery")),
    (Status.DELIVERED, _("Delivered")),
]
#: Where an order can leave the path.
OFF_PATH = {
    Status.EXPIRED: _("Expired unpaid"),
    Status.CANCELLED: _("Cancelled"),
    Status.CANCELLATION_REQUESTED: _("Cancellation requested"),
    Status.REFUNDED: _("Refunded"),
}
#: The note ``services.record_refund`` writes (in English, like every note).
REFUND_NOTE = re.compile(r"Refunded KES (?P<amount>[0-9,.]+) \((?P<reference>.*)\)", re.DOTALL)


@dataclass(frozen=True)
class Step:
    label: str
    status: str
    at: datetime | None
    done: bool
    current: bool = False
    note: str = ""


def order_timeline(order: Order, events: list[OrderEvent], shipments: list[Shipment]) -> list[Step]:
    """Return the steps to show: the path so far (and to come), or how it ended.

    *events* are the order's OrderEvents, oldest first; *shipments* give
    the courier and tracking number for the "Shipped" step.
    """
    first: dict[str, OrderEvent] = {}
    for event in events:
        first.setdefault(event.to_status, event)
    tracking = ", ".join(f"{s.get_courier_display()} {s.tracking_number}" for s in shipments)
    notes = {Status.SHIPPED: tracking}
    steps = []
    for status, label in PATH:
        event = first.get(status)
        if event is None and status == Status.OUT_FOR_DELIVERY and Status.DELIVERED in first:
            continue  # delivered straight from the courier's van
        steps.append(
            Step(
                label,
                status,
                event.created if event else None,
                event is not None,
                note=notes.get(status, ""),
            )
        )
    if order.status in OFF_PATH:
        steps = [step for step in steps if step.done]
        for event in events:
            if event.to_status in OFF_PATH:
                steps.append(
                    Step(
                        OFF_PATH[event.to_status],
                        event.to_status,
                        event.created,
                        True,
                        note=shopper_note(event.note),
                    )
                )
    done = [index for index, step in enumerate(steps) if step.done]
    if done:
        last = done[-1]
        steps[last] = Step(**{**steps[last].__dict__, "current": True})
    return steps


def shopper_note(note: str) -> str:
    """Return an event's *note* in the active language.

    Notes are stored in English (staff read them in the order's history).
    The ones the shop writes itself are translated; what a person typed (a
    shopper's reason for cancelling, a staff note) is shown as typed.
    """
    if not note:
        return ""
    refund = REFUND_NOTE.fullmatch(note)
    if refund:
        return gettext("Refunded KES %(amount)s (%(reference)s)") % refund.groupdict()
    return gettext(note)
