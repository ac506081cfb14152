"""Staff pages: every catalogue and order admin page renders."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from payments.models import PaymentAttempt
from payments.tests.factories import order_to_pay
from shop import services
from shop.models import DeliveryZone, Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model",
    [
        "category",
        "brand",
        "attribute",
        "attributevalue",
        "product",
        "productvariant",
        "banner",
        "deliveryzone",
        "order",
    ],
)
def test_admin_list_add_and_change_pages_render(staff_client, model):
    call_command("seed_demo", no_staff=True)
    listing = staff_client.get(reverse(f"admin:shop_{model}_changelist") + "?q=galaxy")
    assert listing.status_code == 200
    klass = listing.context["cl"].model
    obj = klass.objects.first()
    if obj is not None:
        assert (
            staff_client.get(reverse(f"admin:shop_{model}_change", args=[obj.pk])).status_code
            == 200
        )
    if model != "order":
        assert staff_client.get(reverse(f"admin:shop_{model}_add")).status_code == 200


def test_variant_stock_is_editable_in_the_list(staff_client):
    call_command("seed_demo", no_staff=True)
    page = staff_client.get(reverse("admin:shop_productvariant_changelist") + "?stock=low")
    assert page.status_code == 200
    assert 'name="form-0-stock_on_hand"' in page.content.decode()


def test_a_county_belongs_to_one_delivery_zone(staff_client):
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200)
    response = staff_client.post(
        reverse("admin:shop_deliveryzone_add"),
        {"name": "Central", "counties": ["Nairobi", "Nyeri"], "fee": "300", "delivery_days": ""},
    )
    assert response.status_code == 200
    assert "Nairobi (already in Nairobi)" in response.content.decode()
    assert DeliveryZone.objects.count() == 1


def test_orders_cannot_be_edited_or_added_in_admin(staff_client):
    assert staff_client.get(reverse("admin:shop_order_add")).status_code == 403
    assert not Order.objects.exists()


# Order actions ---------------------------------------------------------------


def paid_order():
    order = order_to_pay(price="1500")
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK1")
    return Order.objects.get(pk=order.pk)


def act(client, order, action, **data):
    url = reverse("admin:shop_order_fulfil", args=[order.pk, action])
    response = client.post(url, {f"{action}-{k}": v for k, v in data.items()}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_staff_walk_an_order_from_paid_to_delivered_in_admin(staff_client):
    order = paid_order()
    page = staff_client.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert 'data-action="pack"' in page and 'data-action="ship"' in page
    assert 'data-action="deliver"' not in page
    html = act(staff_client, order, "ship", courier="g4s", tracking_number="G4S-42")
    assert "Hand to courier: done. Order" in html and "is shipped." in html
    assert "G4S-42" in html
    act(staff_client, order, "track", status="out_for_delivery", note="Rider on the way")
    html = act(staff_client, order, "deliver", note="Handed to Amina")
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    boss = get_user_model().objects.get(username="boss")
    actors = set(order.events.exclude(actor=None).values_list("actor", flat=True))
    assert actors == {boss.pk}
    assert "data-action=" not in html  # nothing left to do


def test_a_refused_action_says_why_and_changes_nothing(staff_client):
    order = paid_order()
    html = act(staff_client, order, "ship", courier="g4s", tracking_number="  ")
    assert "Hand to courier:" in html and "tracking number" in html.lower()
    html = act(staff_client, order, "deliver")
    assert "hasn&#x27;t been shipped" in html
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert (
        staff_client.get(reverse("admin:shop_order_fulfil", args=[order.pk, "ship"])).status_code
        == 404
    )
    assert (
        staff_client.post(
            reverse("admin:shop_order_fulfil", args=[order.pk, "explode"])
        ).status_code
        == 404
    )


def test_a_cancellation_request_is_refunded_from_admin(staff_client):
    order = paid_order()
    act(staff_client, order, "cancel", note="Shopper called")
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLATION_REQUESTED
    html = act(
        staff_client, order, "refund", amount="2000", method="mpesa_reversal", reference="QK77"
    )
    assert "Record a refund: done." in html and "QK77" in html
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunds.get().actor.username == "boss"


def test_shoppers_cannot_use_the_order_actions(client):
    order = paid_order()
    shopper = get_user_model().objects.create_user("amina", "amina@example.com", "pw")
    client.force_login(shopper)
    url = reverse("admin:shop_order_fulfil", args=[order.pk, "ship"])
    response = client.post(url, {"ship-courier": "g4s", "ship-tracking_number": "X"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_orders_are_found_by_receipt_and_filtered_by_payment(staff_client):
    order = paid_order()
    PaymentAttempt.objects.create(
        order=order,
        phone=order.phone,
        amount=order.amount_payable,
        status="paid",
        receipt_number="SGH12XYZ9",
        resend_after=timezone.now(),
        flag="amount_mismatch",
    )
    listing = reverse("admin:shop_order_changelist")
    found = staff_client.get(listing + "?q=SGH12XYZ9")
    assert list(found.context["cl"].result_list) == [order]
    flagged = staff_client.get(listing + "?payment=flagged")
    assert list(flagged.context["cl"].result_list) == [order]
    unpaid = staff_client.get(listing + "?payment=unpaid")
    assert list(unpaid.context["cl"].result_list) == []


def test_staff_pack_many_orders_at_once(staff_client):
    orders = [paid_order(), paid_order()]
    staff_client.post(
        reverse("admin:shop_order_changelist"),
        {"action": "mark_packed", "_selected_action": [o.pk for o in orders]},
    )
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.PACKED}
