"""The staff's order actions in admin: pack, ship, track, deliver, cancel, refund.

Each action is a small form on the order's admin page posting to its own
URL; the view binds the form, calls the service (which enforces the rules
and writes the history with the staff member) and redirects back with a
message. Nothing here changes an order by itself.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from payments.models import PaymentAttempt

from . import services
from .exceptions import FulfilmentError, ShopError
from .models import Order, Refund, Shipment

Status = Order.Status


class ShipForm(forms.Form):
    courier = forms.ChoiceField(label="Courier", choices=Shipment.Courier.choices)
    tracking_number = forms.CharField(label="Tracking number", max_length=64)


class ShipmentUpdateForm(forms.Form):
    status = forms.ChoiceField(
        label="What happened",
        choices=[c for c in Shipment.Status.choices if c[0] != Shipment.Status.HANDED_OVER],
    )
    note = forms.CharField(label="Note", max_length=300, required=False)


class RefundForm(forms.Form):
    amount = forms.DecimalField(label="Amount (KES)", min_value=1, decimal_places=2)
    method = forms.ChoiceField(label="Refunded by", choices=Refund.Method.choices)
    reference = forms.CharField(label="Reference", max_length=64)
    note = forms.CharField(label="Note", max_length=300, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(label="Note", max_length=300, required=False)


def _latest_shipment(order: Order) -> Shipment | None:
    return order.shipments.newest()


def _pack(order, data, user):
    services.mark_packed(order_id=order.pk, actor=user)


def _ship(order, data, user):
    services.ship_order(order_id=order.pk, actor=user, **data)


def _track(order, data, user):
    shipment = _latest_shipment(order)
    if shipment is None:
        raise FulfilmentError("This order hasn't been shipped yet.")
    services.update_shipment(shipment_id=shipment.pk, actor=user, **data)


def _deliver(order, data, user):
    services.mark_delivered(order_id=order.pk, actor=user, **data)


def _cancel(order, data, user):
    services.cancel_order(order_id=order.pk, actor=user, reason=data["note"])


def _refund(order, data, user):
    services.record_refund(order_id=order.pk, actor=user, **data)


def _decline(order, data, user):
    services.decline_cancellation(order_id=order.pk, actor=user, **data)


@dataclass(frozen=True)
class Action:
    label: str
    statuses: frozenset
    form: type[forms.Form]
    run: Callable


#: What staff can do to an order, by name, and in which statuses it is offered
#: (the services decide what is really allowed).
ACTIONS = {
    "pack": Action("Mark packed", frozenset({Status.PAID}), NoteForm, _pack),
    "ship": Action("Hand to courier", frozenset({Status.PAID, Status.PACKED}), ShipForm, _ship),
    "track": Action(
        "Record a parcel update",
        frozenset({Status.SHIPPED, Status.OUT_FOR_DELIVERY}),
        ShipmentUpdateForm,
        _track,
    ),
    "deliver": Action(
        "Mark delivered", frozenset({Status.SHIPPED, Status.OUT_FOR_DELIVERY}), NoteForm, _deliver
    ),
    "cancel": Action(
        "Cancel the order",
        frozenset({Status.AWAITING_PAYMENT, Status.PAID, Status.PACKED}),
        NoteForm,
        _cancel,
    ),
    "refund": Action(
        "Record a refund",
        frozenset({Status.CANCELLATION_REQUESTED, Status.PAID, Status.PACKED}),
        RefundForm,
        _refund,
    ),
    "decline": Action(
        "Decline the cancellation", frozenset({Status.CANCELLATION_REQUESTED}), NoteForm, _decline
    ),
}


def actions_for(order: Order) -> list[dict]:
    """Return the actions offered for the order's status, each with its form."""
    found = []
    for name, spec in ACTIONS.items():
        if order.status in spec.statuses:
            initial = {"amount": order.amount_payable} if name == "refund" else None
            form = spec.form(prefix=name, initial=initial)
            found.append({"name": name, "label": spec.label, "form": form})
    return found


class FulfilmentAdminMixin:
    """Adds the order actions to an Order ModelAdmin's change page."""

    change_form_template = "admin/shop/order/change_form.html"

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/fulfil/<slug:action>/",
                self.admin_site.admin_view(self.fulfil_view),
                name="shop_order_fulfil",
            )
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if order is not None and self.has_change_permission(request, order):
            extra["fulfilment_actions"] = actions_for(order)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def fulfil_view(self, request, object_id: int, action: str):
        if request.method != "POST":
            raise Http404("Order actions are POSTed from the order page.")
        order = get_object_or_404(Order, pk=object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        if action not in ACTIONS:
            raise Http404("No such order action")
        spec = ACTIONS[action]
        label = spec.label
        back = HttpResponseRedirect(reverse("admin:shop_order_change", args=[order.pk]))
        form = spec.form(request.POST, prefix=action)
        if not form.is_valid():
            problems = "; ".join(f"{form[f].label}: {' '.join(e)}" for f, e in form.errors.items())
            messages.error(request, f"{label}: {problems}")
            return back
        try:
            spec.run(order, form.cleaned_data, request.user)
        except ShopError as problem:
            messages.error(request, f"{label}: {problem.message}")
        else:
            order.refresh_from_db()
            messages.success(
                request,
                f"{label}: done. Order {order.number} is {order.get_status_display().lower()}.",
            )
        return back


class PaymentStateFilter(admin.SimpleListFilter):
    """Orders by what M-Pesa said: paid, not paid, or a payment to look at."""

    title = "payment"
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        return [
            ("paid", "Paid"),
            ("unpaid", "Not paid"),
            ("flagged", "Payment needs review"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "paid":
            return queryset.filter(paid_at__isnull=False)
        if self.value() == "unpaid":
            return queryset.filter(paid_at__isnull=True)
        if self.value() == "flagged":
            flagged = PaymentAttempt.objects.needing_review().values("order_id")
            return queryset.filter(pk__in=flagged)
        return queryset
