"""Paying an order over M-Pesa's per-payment ceiling in parts, in Chromium.

M-Pesa takes at most ``MPESA_MAX_PER_PAYMENT`` per payment, so a larger
order is paid in several prompts, one after the other: the ceiling first,
then the balance. The journeys lower the ceiling to KES 5,000 (the live
server runs in the test's process, so it sees the setting) and buy one demo
item whose total with Nairobi delivery lies between one and two ceilings:
two parts of different amounts, so the second prompt needn't wait out
Daraja's two-minute same-amount rule. The order ends paid, with one M-Pesa
receipt per part, with JavaScript on (the fragment polls and swaps in
place) and off (the page refreshes itself, forms post and redirect).
"""

import pytest
from playwright.sync_api import Page, expect

from payments.models import PaymentAttempt
from payments.tests.simulators import RunningSimulator
from shop.models import Order, ProductVariant
from storefront.money import format_kes, whole_shillings

from .axe import expect_accessible
from .test_checkout import (  # noqa: F401 - daraja is a fixture
    NAIROBI_FEE,
    PAYS,
    STATUS_URL,
    daraja,
    expect_allocated_once,
    expect_summary,
    fill_cart,
    fill_guest_details,
    pay,
    payment_status,
    press_resend,
    quote_delivery,
    simulator_receipts,
    wait_for_result,
)
from .test_shopping import assert_no_page_load

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

#: The per-payment ceiling the journeys run with (the default is KES 250,000).
CEILING = 5000
PAYER = "254708374149"  # PAYS, as the shop stores it
PHONE_WIDTH = 390


@pytest.fixture
def daraja_in_parts(daraja, settings) -> RunningSimulator:  # noqa: F811 - the fixture
    """The Daraja simulator, with M-Pesa taking at most CEILING per payment."""
    settings.MPESA_MAX_PER_PAYMENT = CEILING
    return daraja


# Helpers ------------------------------------------------------------------


def variant_for_two_parts() -> ProductVariant:
    """An in-stock variant whose total with Nairobi delivery takes two unequal parts.

    Below KES 10,000 the Nairobi zone charges its fee, so the total is the
    price plus NAIROBI_FEE: more than one ceiling, less than two.
    """
    candidates = ProductVariant.objects.filter(
        is_active=True,
        product__is_active=True,
        price__gt=CEILING - NAIROBI_FEE + 500,  # a second part worth the name
        price__lt=2 * CEILING - NAIROBI_FEE,
    ).order_by("price", "id")
    for variant in candidates:
        if variant.stock_available >= 1:
            return variant
    raise AssertionError(
        f"the demo catalogue should have an in-stock variant between KES {CEILING:,} and "
        f"KES {2 * CEILING:,} with Nairobi delivery"
    )


def heading(page: Page):
    """The status fragment's own heading (the parts list has an h3 of its own)."""
    return payment_status(page).get_by_role("heading", level=2)


def expect_check_your_phone(page: Page) -> None:
    expect(payment_status(page)).to_have_attribute("data-state", "pending")
    expect(heading(page)).to_have_text("Check your phone")


def parts_list(page: Page):
    return payment_status(page).get_by_test_id("part")


def expect_parts(page: Page, expected: list[tuple[int, str]]) -> list[str]:
    """The parts list shows *expected* (amount, state) in order; return its receipts.

    A paid part shows its receipt; no other part does.
    """
    parts = parts_list(page)
    expect(parts).to_have_count(len(expected))
    receipts = []
    for index, (amount, state) in enumerate(expected):
        part = parts.nth(index)
        expect(part).to_have_attribute("data-state", state)
        expect(part).to_contain_text(f"Part {index + 1} · {format_kes(amount)}")
        receipt = part.get_by_test_id("part-receipt")
        if state == "paid":
            expect(part).to_contain_text("Paid, receipt")
            receipts.append(receipt.inner_text().strip())
        else:
            expect(receipt).to_have_count(0)
    return receipts


def expect_balance(page: Page, *, paid: int, payable: int) -> None:
    text = f"Paid {format_kes(paid)} of {format_kes(payable)}"
    text += f"; balance {format_kes(payable - paid)}." if paid < payable else "."
    expect(page.get_by_test_id("balance")).to_have_text(text)


def expect_fits_a_phone(page: Page) -> None:
    """At PHONE_WIDTH the parts list is on screen and nothing scrolls sideways."""
    parts = payment_status(page).get_by_test_id("parts")
    expect(parts).to_be_visible()
    box = parts.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, box
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE_WIDTH, f"the page is {scroll_width} px wide on a phone"


def ask_for_the_second_part(page: Page, *, js: bool, amount: int) -> None:
    """Press "Pay part 2 of 2" (the phone already filled in) and see the prompt sent."""
    phone = payment_status(page).get_by_label("M-Pesa number")
    expect(phone).to_have_value(PAYS)
    resend = page.get_by_test_id("resend")
    # The resend wait (1 s) may outlast the first callback by a moment.
    expect(resend).to_be_visible(timeout=5000)
    expect(resend).to_have_text(f"Pay part 2 of 2 · {format_kes(amount)}")
    press_resend(page, js=js)
    expect_check_your_phone(page)
    if js:
        assert_no_page_load(page, "asking for the second part")


# The journey ----------------------------------------------------------------


def guest_pays_in_two_parts(
    page: Page, simulator: RunningSimulator, *, js: bool, on_a_phone: bool = False
) -> None:
    if on_a_phone:
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    variant = variant_for_two_parts()
    payable = whole_shillings(variant.price + NAIROBI_FEE)
    first, second = CEILING, payable - CEILING
    assert CEILING < payable < 2 * CEILING and first != second

    # Checkout says how the order will be paid before anything is placed.
    fill_cart(page, variant, js=js)
    fill_guest_details(page, mpesa_phone=PAYS)
    quote_delivery(
        page, js=js, choose=lambda: page.get_by_label("County").select_option(label="Nairobi")
    )
    total = expect_summary(page, county="Nairobi", fee=NAIROBI_FEE, subtotal=variant.price)
    expect(page.get_by_test_id("mpesa-parts")).to_have_text(
        f"M-Pesa takes at most {format_kes(CEILING)} per payment, so you will pay in 2 M-Pesa "
        f"prompts, one after the other: {format_kes(first)}, then {format_kes(second)}."
    )
    assert not Order.objects.exists()
    expect_accessible(page, "checkout, to pay in parts")

    # Part 1: the ceiling.
    order = pay(page)
    assert order.amount_payable == payable
    expect_check_your_phone(page)
    expect(page.get_by_test_id("payment-message")).to_have_text(
        f"Enter your M-Pesa PIN on your phone to pay {format_kes(first)}."
    )
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    expect_parts(page, [(first, "pending"), (second, "to_pay")])
    expect_balance(page, paid=0, payable=payable)
    if on_a_phone:
        expect_fits_a_phone(page)

    wait_for_result(page, "next_part", js=js)
    expect(heading(page)).to_have_text("Part paid")
    [receipt_1] = expect_parts(page, [(first, "paid"), (second, "to_pay")])
    assert receipt_1 and simulator_receipts(simulator) == [receipt_1]
    expect(page.get_by_test_id("payment-message")).to_have_text(
        f"Part 1 is paid (receipt {receipt_1}). Now pay part 2 of 2: {format_kes(second)}."
    )
    expect_balance(page, paid=first, payable=payable)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    if on_a_phone:
        expect_fits_a_phone(page)
    expect_accessible(page, "part 1 paid")

    # Part 2: the balance.
    ask_for_the_second_part(page, js=js, amount=second)
    expect(page.get_by_test_id("payment-message")).to_have_text(
        f"Enter your M-Pesa PIN on your phone to pay {format_kes(second)}."
    )
    expect(payment_status(page)).to_contain_text(f"The prompt went to {PAYS}")
    expect_parts(page, [(first, "paid"), (second, "pending")])
    expect_balance(page, paid=first, payable=payable)

    wait_for_result(page, "paid", js=js)
    expect(heading(page)).to_have_text("Payment received")
    receipts = expect_parts(page, [(first, "paid"), (second, "paid")])
    expect_balance(page, paid=payable, payable=payable)
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    if on_a_phone:
        expect_fits_a_phone(page)
    expect_accessible(page, "all parts paid")

    # One receipt per part, the same on the page, in the database and at M-Pesa.
    assert receipts[0] == receipt_1
    assert len(set(receipts)) == 2 and all(receipts), receipts
    assert simulator_receipts(simulator) == receipts
    expect(page.get_by_test_id("payment-message")).to_have_text(
        f"Paid, receipt {receipts[0]}, {receipts[1]}."
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    attempts = list(order.payment_attempts.order_by("created", "id"))
    assert [(a.amount, a.status, a.counted, a.phone) for a in attempts] == [
        (first, PaymentAttempt.Status.PAID, True, PAYER),
        (second, PaymentAttempt.Status.PAID, True, PAYER),
    ]
    assert [a.receipt_number for a in attempts] == receipts
    assert sum(a.amount for a in attempts) == order.amount_payable
    pushes = [t["request"] for t in simulator.transactions()]
    assert [int(p["Amount"]) for p in pushes] == [first, second]
    assert {(p["PartyA"], p["AccountReference"]) for p in pushes} == {(PAYER, order.number)}
    expect_allocated_once(variant, order)

    # The order's own page shows it paid, with every part's receipt.
    page.get_by_test_id("follow-order").click()
    expect(page).to_have_url(order.get_absolute_url())
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect(page.get_by_test_id("receipt")).to_have_text(", ".join(receipts))
    expect_accessible(page, "order page")


def test_guest_with_javascript_on_a_phone_pays_a_large_order_in_two_parts(
    page: Page, page_errors: list[str], daraja_in_parts: RunningSimulator
):
    guest_pays_in_two_parts(page, daraja_in_parts, js=True, on_a_phone=True)
    assert page_errors == []


def test_guest_without_javascript_pays_a_large_order_in_two_parts(
    page_without_js: Page, daraja_in_parts: RunningSimulator
):
    guest_pays_in_two_parts(page_without_js, daraja_in_parts, js=False)
