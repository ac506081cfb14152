"""/metrics: who may read it, what the shop's numbers say, and what a scrape costs."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from payments.models import Callback, PaymentAttempt
from shop.models import Order

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def make_user(*, staff: bool):
    name = "staff" if staff else "shopper"
    return get_user_model().objects.create_user(
        name, email=f"{name}@example.com", password="pw-123456", is_staff=staff
    )


def samples(response) -> dict:
    """Return {(name, sorted labels): value} from a scrape."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def make_order(status: str, *, paid: bool = False) -> Order:
    total = Decimal("1500.00")
    return Order.objects.create(
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
        amount_payable=1500,
        paid_at=timezone.now() if paid else None,
    )


def make_attempt(order, n, *, status, result_code="", pushed_ago=None, **fields):
    attempt = PaymentAttempt.objects.create(
        order=order,
        phone="254712345678",
        amount=1500,
        status=status,
        result_code=result_code,
        checkout_request_id=f"ws_CO_metrics_{n}",
        resend_after=timezone.now(),
        **fields,
    )
    if pushed_ago is not None:  # "created" is auto_now_add
        PaymentAttempt.objects.filter(pk=attempt.pk).update(created=timezone.now() - pushed_ago)
    return attempt


def test_anonymous_and_shoppers_get_404(client):
    assert client.get("/metrics").status_code == 404
    client.force_login(make_user(staff=False))
    assert client.get("/metrics").status_code == 404


def test_staff_read_the_metrics(client):
    client.force_login(make_user(staff=True))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    assert ("storefront_orders_placed_total", ()) in samples(response)


def test_a_bearer_token_reads_them_from_any_host_over_http(settings, token):
    """Prometheus scrapes the pod's address over plain HTTP: no host check, no redirect."""
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/metrics", HTTP_HOST="10.244.3.17:8000", **token)
    assert response.status_code == 200
    assert ("storefront_task_queue_depth", ()) in samples(response)


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"],
)
def test_a_wrong_token_gets_403(client, token, header):
    assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 403


def test_without_a_token_set_no_token_is_accepted(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 403


def test_only_get_reads_them(client, token):
    assert client.post("/metrics", **token).status_code == 405


def test_the_shops_numbers_come_from_the_database(client, token):
    waiting = make_order(Order.Status.AWAITING_PAYMENT)
    paid = make_order(Order.Status.PAID, paid=True)
    make_order(Order.Status.SHIPPED, paid=True)
    make_order(Order.Status.EXPIRED)
    make_attempt(paid, 1, status="paid", result_code="0", pushed_ago=timedelta(seconds=30))
    make_attempt(waiting, 2, status="failed", result_code="1032")
    make_attempt(waiting, 3, status="failed", result_code="1032")
    make_attempt(waiting, 4, status="pending")
    make_attempt(waiting, 5, status="failed", result_code="weird code!", flag="result_conflict")
    # Two callbacks 8 s and 25 s after their push, one an hour and more ago (left out).
    for n, delay in ((1, 8), (2, 25), (3, 45)):
        attempt = PaymentAttempt.objects.get(checkout_request_id=f"ws_CO_metrics_{n}")
        callback = Callback.objects.create(body="{}", attempt=attempt, outcome="paid")
        received = attempt.created + timedelta(seconds=delay)
        if n == 3:
            received -= timedelta(hours=2)
        Callback.objects.filter(pk=callback.pk).update(received_at=received)
    now = timezone.now()
    for run_after in (None, now - timedelta(minutes=1), now + timedelta(hours=1)):
        DBTaskResult.objects.create(
            task_path="shop.tasks.example",
            args_kwargs={"args": [], "kwargs": {}},
            queue_name="default",
            backend_name="default",
            priority=0,
            **({"run_after": run_after} if run_after else {}),
        )

    found = samples(client.get("/metrics", **token))

    assert found[("storefront_orders", (("status", "awaiting_payment"),))] == 1
    assert found[("storefront_orders", (("status", "paid"),))] == 1
    assert found[("storefront_orders_placed_total", ())] == 4
    assert found[("storefront_orders_paid_total", ())] == 2
    pushes = "storefront_mpesa_stk_pushes_total"
    assert found[(pushes, (("result_code", "0"), ("status", "paid")))] == 1
    assert found[(pushes, (("result_code", "1032"), ("status", "failed")))] == 2
    assert found[(pushes, (("result_code", ""), ("status", "pending")))] == 1
    assert found[(pushes, (("result_code", "other"), ("status", "failed")))] == 1
    assert found[("storefront_mpesa_payments_needing_review", ())] == 1
    delay = "storefront_mpesa_callback_delay_seconds_bucket"
    assert found[(delay, (("le", "5.0"),))] == 0
    assert found[(delay, (("le", "10.0"),))] == 1
    assert found[(delay, (("le", "30.0"),))] == 2
    assert found[(delay, (("le", "+Inf"),))] == 2
    assert found[("storefront_mpesa_callback_delay_seconds_gsum", ())] == pytest.approx(33)
    assert found[("storefront_task_queue_depth", ())] == 2  # the one due later waits
    assert all(
        value == 1
        for (name, _), value in found.items()
        if name == "storefront_metrics_collector_up"
    )


def test_a_scrape_runs_the_same_few_queries_whatever_the_data(
    client, token, django_assert_num_queries
):
    with django_assert_num_queries(5):
        client.get("/metrics", **token)
    for n in range(6):
        order = make_order(Order.Status.AWAITING_PAYMENT)
        make_attempt(order, n, status="failed", result_code=str(1000 + n))
        Callback.objects.create(body="{}", attempt=order.payment_attempts.get())
    with django_assert_num_queries(5):
        client.get("/metrics", **token)


def test_each_request_is_counted_by_view_and_status(client, token):
    def count(view, status):
        labels = {"view": view, "method": "GET", "status": status}
        return REGISTRY.get_sample_value("storefront_http_request_duration_seconds_count", labels)

    before = count("robots-txt", "200") or 0
    missing = count("<none>", "404") or 0
    for _ in range(3):
        assert client.get("/robots.txt").status_code == 200
    client.get("/no-such-page-at-all/")
    assert count("robots-txt", "200") == before + 3
    assert count("<none>", "404") == missing + 1
    body = client.get("/metrics", **token).content.decode()
    assert (
        'storefront_http_request_duration_seconds_count{method="GET",status="200",view="robots-txt"}'
        in body
    )
