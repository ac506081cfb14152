"""The shopper's payment status page and its resend form."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from payments.forms import MpesaPhoneForm
from payments.models import PaymentAttempt
from payments.services import payment_state
from shop.order_access import SESSION_KEY
from shop.services import mark_order_paid

from .factories import PAYER, order_to_pay, payer

pytestmark = pytest.mark.django_db

A = PaymentAttempt.Status
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "payment-status"}


def own(client, order) -> None:
    """Let the test client's session see *order*, as checkout does."""
    session = client.session
    session[SESSION_KEY] = [order.number]
    session.save()


def attempt_for(order, *, status=A.PENDING, resend_in=60, **fields) -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        order=order,
        phone=PAYER,
        amount=order.amount_payable,
        status=status,
        checkout_request_id=fields.pop("checkout_request_id", f"ws_CO_{order.pk}_{status}"),
        resend_after=timezone.now() + timedelta(seconds=resend_in),
        **fields,
    )


def status_url(order) -> str:
    return reverse("shop:order-payment", kwargs={"number": order.number})


@pytest.fixture
def order(client):
    order = order_to_pay(price="1500")
    own(client, order)
    return order


def test_a_pending_payment_says_check_your_phone_and_polls(client, order):
    attempt_for(order)
    response = client.get(status_url(order))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-state="pending"' in html and "Check your phone" in html
    assert 'hx-trigger="every 3s"' in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert "Check again" in html
    # 60 seconds from the prompt, counted down while the page renders (slow on a busy machine).
    wait = re.search(r"You can ask for a new one in (\d+) seconds", html)
    assert wait and 50 <= int(wait.group(1)) <= 60
    assert "HX-Request" in response["Vary"]


def test_the_poll_gets_only_the_fragment_and_back_gets_the_page(client, order):
    attempt_for(order)
    fragment = client.get(status_url(order), **HTMX).content.decode()
    assert fragment.lstrip().startswith('<section id="payment-status"')
    assert "<html" not in fragment
    restore = client.get(status_url(order), **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.content.decode()


def test_a_paid_order_shows_the_receipt_and_stops_polling(client, order):
    attempt_for(order, status=A.PAID, receipt_number="NLJ7RT61SV")
    mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="NLJ7RT61SV")
    html = client.get(status_url(order), **HTMX).content.decode()
    assert 'data-state="paid"' in html and "Paid, receipt NLJ7RT61SV." in html
    assert f'href="/orders/{order.number}/"' in html  # follow the order from here
    assert 'hx-trigger="every' not in html and "Pay without the prompt" not in html


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("1032", "You cancelled the M-Pesa request. Try again?"),
        ("1", "Your M-Pesa balance is too low. Top up, then try again."),
        ("2001", "Wrong M-Pesa PIN"),
        ("1037", "dial *234# to refresh your SIM menu"),
    ],
)
def test_a_failed_payment_explains_the_result_and_offers_a_retry(client, order, code, message):
    from payments.results import describe_result

    attempt_for(
        order,
        status=A.FAILED,
        result_code=code,
        message=describe_result(code=code).shopper_message,
        resend_in=0,
    )
    html = client.get(status_url(order)).content.decode()
    assert 'data-state="failed"' in html and message in html
    assert 'data-testid="resend"' in html and 'hx-trigger="every' not in html
    assert "business number" in html and order.number in html  # Paybill fallback


def test_someone_elses_order_is_not_found(client, order):
    other = order_to_pay()
    assert client.get(status_url(other)).status_code == 404
    resend = reverse("shop:order-payment-resend", kwargs={"number": other.number})
    assert client.post(resend, {"phone": PAYER}).status_code == 404
    assert not PaymentAttempt.objects.filter(order=other).exists()


def test_the_shoppers_own_order_opens_when_signed_in(client, django_user_model):
    user = django_user_model.objects.create_user(username="a", email="a@example.com")
    order = order_to_pay()
    order.user = user
    order.save()
    client.force_login(user)
    assert client.get(status_url(order)).status_code == 200


def test_resend_with_a_bad_number_says_so_and_sends_nothing(client, order):
    attempt_for(order, status=A.FAILED, result_code="1032", resend_in=0)
    resend = reverse("shop:order-payment-resend", kwargs={"number": order.number})
    response = client.post(resend, {"phone": "12345"}, **HTMX)
    assert "Enter a Safaricom/Airtel number" in response.content.decode()
    assert PaymentAttempt.objects.count() == 1
    response = client.post(resend, {"phone": "12345"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Enter a Safaricom/Airtel number" in page


def test_resend_too_soon_is_refused_with_the_wait(client, order):
    attempt_for(order, status=A.FAILED, result_code="1032", resend_in=40)
    resend = reverse("shop:order-payment-resend", kwargs={"number": order.number})
    html = client.post(resend, {"phone": PAYER}, **HTMX).content.decode()
    assert "You can ask for a new one in" in html
    assert PaymentAttempt.objects.count() == 1


def test_resend_sends_a_new_prompt(client, order, sim):
    attempt_for(order, status=A.FAILED, result_code="1032", resend_in=0)
    resend = reverse("shop:order-payment-resend", kwargs={"number": order.number})
    response = client.post(resend, {"phone": "0708 374 149"})
    assert response.status_code == 302 and response["Location"] == status_url(order)
    latest = PaymentAttempt.objects.order_by("-id").first()
    assert (latest.status, latest.phone) == (A.PENDING, "254708374149")
    assert [t["request"]["PhoneNumber"] for t in sim.transactions()] == ["254708374149"]
    page = client.get(status_url(order)).content.decode()
    assert "We sent a new M-Pesa prompt to your phone." in page
    assert 'data-state="pending"' in page


def test_a_pending_push_past_the_payment_window_stops_waiting(client, order):
    attempt_for(order)
    later = order.expires_at + timedelta(seconds=1)
    state = payment_state(order, now=later)
    assert (state.state, state.polling) == ("closed", False)


def test_an_expired_order_says_so(client, order):
    from shop.services import expire_order

    expire_order(order_id=order.pk, now=order.expires_at)
    html = client.get(status_url(order)).content.decode()
    assert 'data-state="closed"' in html and "expired unpaid" in html
    assert 'data-testid="resend"' not in html


def status_queries(client, lines: int) -> int:
    order = order_to_pay(price="100", lines=lines, phone=payer("1032"))
    own(client, order)
    attempt_for(order)
    with CaptureQueriesContext(connection) as page:
        assert client.get(status_url(order)).status_code == 200
    with CaptureQueriesContext(connection) as fragment:
        assert client.get(status_url(order), **HTMX).status_code == 200
    return len(page), len(fragment)


def test_the_status_page_runs_a_bounded_number_of_queries(client):
    small, large = status_queries(client, 1), status_queries(client, 8)
    assert small == large
    page, fragment = small
    assert page <= 8 and fragment <= 4


PHONE_INPUT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789+ -.()", max_size=20),
    st.from_regex(r"\A(\+?254|0)?[17]\d{8}\Z"),
)


@hypothesis_settings(
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(phone=PHONE_INPUT)
def test_any_phone_input_is_refused_clearly_or_normalised_never_a_500(client, order, phone):
    attempt = attempt_for(
        order,
        status=A.FAILED,
        result_code="1032",
        resend_in=30,
        checkout_request_id=f"ws_CO_{uuid.uuid4().hex}",
    )
    try:
        resend = reverse("shop:order-payment-resend", kwargs={"number": order.number})
        response = client.post(resend, {"phone": phone}, **HTMX)
        if "\x00" in phone:  # refused whole by shop.middleware.RefuseNulMiddleware
            assert response.status_code == 400
            assert PaymentAttempt.objects.filter(order=order).count() == 1
            return
        assert response.status_code == 200
        html = response.content.decode()
        form = MpesaPhoneForm({"phone": phone})
        if form.is_valid():
            assert re.fullmatch(r"254[17]\d{8}", form.cleaned_data["phone"])
            assert "You can ask for a new one in" in html  # valid: only the throttle stops it
        else:
            assert escape(form.errors["phone"][0]) in html
        assert PaymentAttempt.objects.filter(order=order).count() == 1
    finally:
        attempt.delete()
