"""The order's story for the shopper: the usual path, with what happened when."""

from dataclasses import dataclass
from datetime import datetime

from .models import Order, OrderEvent, Shipment

Status = Order.Status

#: The path of an order that goes well.
PATH = [
    (Status.AWAITING_PAYMENT, "Order placed"),
    (Status.PAID, "Paid"),
    (Status.PACKED, "Packed"),
    (Status.SHIPPED, "Shipped"),
    (Status.OUT_FOR_DELIVERY, "Out for delivery"),
    (Status.DELIVERED, "Delivered"),
]
#: Where an order can leave the path.
OFF_PATH = {
    Status.EXPIRED: "Expired unpaid",
    Status.CANCELLED: "Cancelled",
    Status.CANCELLATION_REQUESTED: "Cancellation requested",
    Status.REFUNDED: "Refunded",
}


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
                        note=event.note,
                    )
                )
    done = [index for index, step in enumerate(steps) if step.done]
    if done:
        last = done[-1]
        steps[last] = Step(**{**steps[last].__dict__, "current": True})
    return steps
