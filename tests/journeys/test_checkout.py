"""Checkout and M-Pesa payment journeys in Chromium, JavaScript on and off.

The shop's own Daraja client talks HTTP to a Daraja simulator, and the
simulator POSTs its callbacks to the live server after a delay, as Safaricom
would. The payer's number picks the outcome (payments/simulator/outcomes.py):
``…1032`` cancels, other numbers pay. With JavaScript the status page polls
its ``#payment-status`` fragment every 3 s; without, it refreshes itself
every 5 s.
"""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import Address
from payments.models import PaymentAttempt
from payments.tests.simulators import RunningSimulator
from shop.models import Cart, Order, ProductVariant
from storefront.money import format_kes, quantize

from .axe import expect_accessible
from .test_shopping import add_to_cart, assert_no_page_load, make_user, set_marker, sign_in

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

PAYS = "0708 374 149"
CANCELS = "0708 301 032"
#: Seconds the simulated shopper takes to answer the prompt: long enough for
#: "Check your phone" to be seen, short enough for a quick journey.
CALLBACK_DELAY = 1.0
#: Milliseconds to wait for a result: one callback plus one poll (3 s) or
#: refresh (5 s), with room for a busy machine.
SETTLES = 12_000
NAIROBI_FEE = Decimal("200")  # the demo's Nairobi zone, below its free-delivery threshold
MOMBASA_FEE = Decimal("500")  # the demo's "Rest of Kenya"
STATUS_URL = re.compile(r"/orders/(DT[0-9A-Z]{8})/payment/$")


@pytest.fixture
def daraja(paying_shop, settings) -> RunningSimulator:
    """Start a Daraja simulator that calls the live shop back after CALLBACK_DELAY."""
    settings.MPESA_RESEND_SECONDS = 1
    return paying_shop(callback_delay=CALLBACK_DELAY)


# Helpers ------------------------------------------------------------------


def affordable_variant() -> ProductVariant:
    """An in-stock variant cheap enough that delivery to Nairobi isn't free."""
    for variant in ProductVariant.objects.filter(
        is_active=True, product__is_active=True, price__lt=5000
    ).order_by("price", "id"):
        if variant.stock_available >= 2:
            return variant
    raise AssertionError("the demo catalogue should have an in-stock variant under KES 5,000")


def fill_cart(page: Page, variant: ProductVariant, *, js: bool) -> None:
    """Put one *variant* in the cart from its product page and go to checkout."""
    page.goto(variant.get_absolute_url())
    expect(page.get_by_test_id("sku")).to_have_text(variant.sku)
    add_to_cart(page, js=js)
    page.goto(reverse("shop:cart"))
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    page.get_by_test_id("checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")


def press_resend(page: Page, *, js: bool) -> None:
    """Press the payment page's prompt button: htmx with JavaScript, a form post without."""
    resend = page.get_by_test_id("resend")
    if js:
        set_marker(page)
        with page.expect_response(lambda r: r.url.endswith("/payment/resend/")) as response:
            resend.click()
        assert response.value.request.headers.get("hx-request") == "true"
    else:
        with page.expect_navigation():
            resend.click()
        expect(page).to_have_url(STATUS_URL)
        expect(page.locator("#messages")).to_contain_text("We sent a new M-Pesa prompt")


def fill_guest_details(page: Page, *, mpesa_phone: str) -> None:
    page.get_by_label("Email").fill("amina@example.com")
    page.locator("[name=new-recipient_name]").fill("Amina Wanjiru")
    page.locator("[name=new-phone]").fill("0712 345 678")
    page.locator("[name=new-town]").fill("Westlands")
    page.locator("[name=new-street]").fill("Mpaka Road, Apple Court")
    page.locator("[name=mpesa_phone]").fill(mpesa_phone)


def quote_delivery(page: Page, *, js: bool, choose) -> None:
    """Run *choose* (a county or address pick), then see the fee worked out."""
    if js:
        set_marker(page)
        with page.expect_response(
            lambda r: r.url.endswith("/checkout/") and r.request.method == "POST"
        ) as response:
            choose()
        assert response.value.request.headers.get("hx-request") == "true"
        assert_no_page_load(page, "choosing where to deliver")
    else:
        choose()
        with page.expect_navigation():
            page.get_by_role("button", name="Update delivery fee").click()


def expect_summary(page: Page, *, county: str, fee: Decimal, subtotal: Decimal) -> str:
    """The summary and the pay button show the fee for *county* and the total; return it."""
    total = format_kes(quantize(subtotal + fee))
    expect(page.get_by_test_id("delivery-fee")).to_have_text(format_kes(fee))
    expect(page.locator("#order-summary")).to_contain_text(f"Delivery to {county}")
    expect(page.get_by_test_id("checkout-subtotal")).to_have_text(format_kes(subtotal))
    expect(page.get_by_test_id("checkout-total")).to_have_text(total)
    expect(page.get_by_test_id("pay")).to_have_text(f"Pay with M-Pesa · {total}")
    return total


def pay(page: Page) -> Order:
    """Press "Pay with M-Pesa"; land on the order's status page; return the order."""
    page.get_by_test_id("pay").click()
    expect(page).to_have_url(STATUS_URL)
    return Order.objects.get(number=STATUS_URL.search(page.url).group(1))


def payment_status(page: Page):
    return page.locator("#payment-status")


def expect_check_your_phone(page: Page) -> None:
    expect(payment_status(page)).to_have_attribute("data-state", "pending")
    expect(payment_status(page).get_by_role("heading")).to_have_text("Check your phone")


def main_frame_loads(page: Page) -> list[str]:
    """Return a list that collects the URL of every page load from now on."""
    loads: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and loads.append(frame.url))
    return loads


def wait_for_result(page: Page, state: str, *, js: bool) -> None:
    """Wait, touching nothing, until the status page shows *state*.

    With JavaScript the fragment must change in place; without, the page
    must have reloaded itself (at least once) to get there.
    """
    if js:
        set_marker(page)
    else:
        loads = main_frame_loads(page)
    expect(payment_status(page)).to_have_attribute("data-state", state, timeout=SETTLES)
    if js:
        assert_no_page_load(page, f"the change to {state}")
    else:
        assert loads, f"the page reached {state} without reloading itself"
        assert all(STATUS_URL.search(url) for url in loads), loads


def simulator_receipts(daraja: RunningSimulator) -> list[str]:
    """Return the receipt of every successful callback the simulator sent."""
    receipts = []
    for transaction in daraja.transactions():
        for callback in transaction["callbacks"]:
            metadata = callback["body"]["Body"]["stkCallback"].get("CallbackMetadata", {})
            items = metadata.get("Item", [])
            receipts += [i["Value"] for i in items if i["Name"] == "MpesaReceiptNumber"]
    return receipts


def expect_paid(page: Page, order: Order, daraja: RunningSimulator, *, total: str) -> str:
    """The page and the database agree the order is paid; return the receipt."""
    [receipt] = simulator_receipts(daraja)
    expect(payment_status(page).get_by_role("heading")).to_have_text("Payment received")
    expect(page.get_by_test_id("payment-message")).to_have_text(f"Paid, receipt {receipt}.")
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert format_kes(order.total) == total
    paid = order.payment_attempts.filter(status=PaymentAttempt.Status.PAID).get()
    assert paid.receipt_number == receipt
    assert paid.amount == order.amount_payable
    return receipt


def expect_allocated_once(variant: ProductVariant, order: Order) -> None:
    """The order holds one unit of *variant*, allocated once, and the cart is empty."""
    before = variant.stock_allocated
    variant.refresh_from_db()
    assert variant.stock_allocated == before + 1
    assert [(line.variant_id, line.quantity) for line in order.lines.all()] == [(variant.pk, 1)]
    assert not Cart.objects.filter(lines__isnull=False).exists()


# Journey 1: a guest pays ---------------------------------------------------


def guest_pays(page: Page, daraja: RunningSimulator, *, js: bool) -> None:
    variant = affordable_variant()
    fill_cart(page, variant, js=js)
    fill_guest_details(page, mpesa_phone=PAYS)
    expect(page.get_by_test_id("delivery-fee")).to_have_text("Choose a county")
    quote_delivery(
        page, js=js, choose=lambda: page.get_by_label("County").select_option(label="Nairobi")
    )
    total = expect_summary(page, county="Nairobi", fee=NAIROBI_FEE, subtotal=variant.price)
    expect_accessible(page, "checkout, delivery fee quoted")

    order = pay(page)
    expect_check_your_phone(page)
    expect(page.get_by_test_id("payment-message")).to_contain_text(f"KES {order.amount_payable:,}")
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    expect_accessible(page, "waiting for M-Pesa")
    wait_for_result(page, "paid", js=js)
    expect_paid(page, order, daraja, total=total)
    expect_accessible(page, "paid")
    expect_allocated_once(variant, order)
    assert (order.email, order.county, order.town) == ("amina@example.com", "Nairobi", "Westlands")
    assert order.payment_attempts.count() == 1


def test_guest_with_javascript_pays_and_sees_the_receipt_without_a_reload(
    page: Page, page_errors: list[str], daraja: RunningSimulator
):
    guest_pays(page, daraja, js=True)
    assert page_errors == []


def test_guest_without_javascript_pays_and_the_page_refreshes_to_the_receipt(
    page_without_js: Page, daraja: RunningSimulator
):
    guest_pays(page_without_js, daraja, js=False)


# Journey 2: a guest cancels the prompt, then pays a new one ----------------


def guest_cancels_then_pays(
    page: Page, daraja: RunningSimulator, *, js: bool, waits_to_resend: bool = False
) -> None:
    """Cancel the prompt, then pay a new one (after the resend wait if *waits_to_resend*)."""
    variant = affordable_variant()
    fill_cart(page, variant, js=js)
    fill_guest_details(page, mpesa_phone=CANCELS)
    quote_delivery(
        page, js=js, choose=lambda: page.get_by_label("County").select_option(label="Nairobi")
    )
    total = expect_summary(page, county="Nairobi", fee=NAIROBI_FEE, subtotal=variant.price)

    order = pay(page)
    expect_check_your_phone(page)
    wait_for_result(page, "failed", js=js)
    expect(payment_status(page).get_by_role("heading")).to_have_text("Payment not completed")
    expect(page.get_by_test_id("payment-message")).to_have_text(
        "You cancelled the M-Pesa request. Try again?"
    )
    expect_accessible(page, "payment not completed")
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    if waits_to_resend:
        # Cancelled before a new prompt may be sent: the page says how long,
        # then offers "Try again" by itself when the time is up.
        expect(page.get_by_test_id("resend-wait")).to_contain_text("You can ask for a new one in")
        expect(page.get_by_test_id("resend")).to_be_visible(timeout=SETTLES)
        if js:
            assert_no_page_load(page, "the end of the resend wait")

    phone = payment_status(page).get_by_label("M-Pesa number")
    expect(phone).to_have_value("0708 301 032")
    phone.fill(PAYS)
    expect(page.get_by_test_id("resend")).to_have_text(
        f"Try again · {format_kes(order.amount_payable)}"
    )
    press_resend(page, js=js)
    expect_check_your_phone(page)
    expect(payment_status(page)).to_contain_text("The prompt went to 0708 374 149")
    if js:
        assert_no_page_load(page, "sending a new prompt")

    wait_for_result(page, "paid", js=js)
    expect_paid(page, order, daraja, total=total)
    expect_allocated_once(variant, order)
    attempts = list(order.payment_attempts.order_by("created", "id"))
    assert [(a.phone, a.status, a.result_code) for a in attempts] == [
        ("254708301032", PaymentAttempt.Status.FAILED, "1032"),
        ("254708374149", PaymentAttempt.Status.PAID, "0"),
    ]


def test_guest_with_javascript_cancels_the_prompt_then_pays_a_new_one(
    page: Page, page_errors: list[str], daraja: RunningSimulator, settings
):
    # The first poll (3 s) sees the cancellation 2 s before a resend is allowed.
    settings.MPESA_RESEND_SECONDS = 5
    guest_cancels_then_pays(page, daraja, js=True, waits_to_resend=True)
    assert page_errors == []


def test_guest_without_javascript_cancels_the_prompt_then_pays_a_new_one(
    page_without_js: Page, daraja: RunningSimulator
):
    guest_cancels_then_pays(page_without_js, daraja, js=False)


# Journey 3: a signed-in shopper pays to a saved address --------------------


def test_shopper_pays_to_another_saved_address_with_its_delivery_fee(
    page: Page, page_errors: list[str], daraja: RunningSimulator
):
    email = "kamau@example.com"
    user = make_user(email)
    user.phone = "254708374149"
    user.save(update_fields=["phone"])
    Address.objects.create(
        user=user,
        recipient_name="Kamau Njoroge",
        phone="254712345678",
        county=47,  # Nairobi
        town="Kilimani",
        street="Argwings Kodhek Road",
        is_default=True,
    )
    mombasa = Address.objects.create(
        user=user,
        recipient_name="Halima Kamau",
        phone="254722000111",
        county=1,  # Mombasa
        town="Nyali",
        street="Links Road, Palm Court",
        notes="Blue gate",
    )
    variant = affordable_variant()
    sign_in(page, email, "Plum-Kettle-Harbour-42")
    fill_cart(page, variant, js=True)

    expect(page.get_by_role("radio", name=re.compile("Kilimani"))).to_be_checked()
    expect(page.locator("[name=mpesa_phone]")).to_have_value("0708 374 149")
    expect_summary(page, county="Nairobi", fee=NAIROBI_FEE, subtotal=variant.price)
    quote_delivery(
        page, js=True, choose=lambda: page.get_by_role("radio", name=re.compile("Nyali")).check()
    )
    total = expect_summary(page, county="Mombasa", fee=MOMBASA_FEE, subtotal=variant.price)
    expect_accessible(page, "checkout with saved addresses")

    order = pay(page)
    expect_check_your_phone(page)
    wait_for_result(page, "paid", js=True)
    expect_paid(page, order, daraja, total=total)
    expect_allocated_once(variant, order)
    assert order.user == user
    assert (order.recipient_name, order.county, order.town, order.landmark) == (
        mombasa.recipient_name,
        "Mombasa",
        "Nyali",
        "Blue gate",
    )
    assert page_errors == []


# Journey 4: a mistyped M-Pesa number ---------------------------------------


def test_guest_who_mistypes_the_mpesa_number_is_told_and_no_order_is_placed(
    page: Page, page_errors: list[str], daraja: RunningSimulator
):
    variant = affordable_variant()
    fill_cart(page, variant, js=True)
    fill_guest_details(page, mpesa_phone="0708 374 14")  # a digit short
    page.get_by_label("County").select_option(label="Nairobi")
    expect(page.get_by_test_id("delivery-fee")).to_have_text(format_kes(NAIROBI_FEE))

    page.get_by_test_id("pay").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    field = page.locator("#div_id_mpesa_phone")
    expect(field).to_contain_text("Enter a Safaricom/Airtel number like 0712 345 678.")
    expect_accessible(page, "checkout with an error")
    assert not Order.objects.exists()
    assert daraja.transactions() == []
    # What was typed is still there; only the number needs fixing.
    expect(page.locator("[name=new-street]")).to_have_value("Mpaka Road, Apple Court")
    expect(page.get_by_label("County")).to_have_value("47")
    total = expect_summary(page, county="Nairobi", fee=NAIROBI_FEE, subtotal=variant.price)

    page.locator("[name=mpesa_phone]").fill(PAYS)
    order = pay(page)
    expect_check_your_phone(page)
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    assert Order.objects.count() == 1
    assert [t["request"]["PartyA"] for t in daraja.transactions()] == ["254708374149"]
    assert order.payment_attempts.get().status == PaymentAttempt.Status.PENDING
    assert page_errors == []
