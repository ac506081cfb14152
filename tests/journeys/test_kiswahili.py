"""A shopper who reads Kiswahili buys and pays, JavaScript on (on a 390 px phone) and off.

The journey switches language with the header's switch (a plain form), then
reads every step by its Kiswahili words: the words are looked up in the
shop's catalogue, so a string left in English fails here.
"""

import pytest
from django.utils import translation
from django.utils.translation import gettext, pgettext
from playwright.sync_api import Page, expect

from shop.models import Order

from .axe import expect_accessible
from .test_checkout import (
    CALLBACK_DELAY,
    NAIROBI_FEE,
    PAYS,
    STATUS_URL,
    affordable_variant,
    payment_status,
    simulator_receipts,
    wait_for_result,
)

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def sim(paying_shop):
    """A Daraja simulator whose shopper approves each prompt after CALLBACK_DELAY."""
    return paying_shop(callback_delay=CALLBACK_DELAY)


def sw(text: str, context: str | None = None) -> str:
    """*text* as the Kiswahili shop writes it; the catalogue must have it."""
    with translation.override("sw"):
        words = pgettext(context, text) if context else gettext(text)
    assert words != text, f"{text!r} has no Kiswahili"
    return words


def in_view(page: Page, locator) -> bool:
    box = locator.bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def first_card_on_first_screen(page: Page) -> None:
    card = page.locator("#listing article").first
    expect(card).to_be_visible()
    box = card.bounding_box()
    assert box["y"] < page.viewport_size["height"], f"first product at {box['y']} px"


def shopper_buys_in_kiswahili(page: Page, sim, *, js: bool, phone: bool) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en-gb")
    with page.expect_navigation():
        page.get_by_test_id("language-switch").get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_role("navigation", name=sw("Account"))).to_contain_text(sw("Sign in"))
    expect_accessible(page, "home in Kiswahili")

    page.get_by_role("link", name=sw("All products")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(sw("All products"))
    if phone:
        first_card_on_first_screen(page)
    expect_accessible(page, "all products in Kiswahili")
    page.goto("/search/?q=galaxy")
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    if phone:
        first_card_on_first_screen(page)

    variant = affordable_variant()
    page.goto(variant.get_absolute_url())
    add = page.get_by_role("button", name=sw("Add to cart"))
    if phone:
        assert in_view(page, add), "Add to cart is not in view on a phone"
    expect_accessible(page, "product in Kiswahili")
    if js:
        with page.expect_response(lambda r: r.url.endswith("/cart/add/")):
            add.click()
        expect(page.get_by_test_id("cart-count")).to_have_text("1")
    else:
        with page.expect_navigation():
            add.click()

    page.goto("/cart/")
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    page.get_by_test_id("checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(sw("Checkout"))
    page.locator("[name=email]").fill("wanjiku@example.com")
    page.locator("[name=new-recipient_name]").fill("Wanjiku Kamau")
    page.locator("[name=new-phone]").fill("0712 345 678")
    page.locator("[name=new-town]").fill("Kasarani")
    page.locator("[name=new-street]").fill("Mwiki Road")
    page.locator("[name=mpesa_phone]").fill(PAYS)
    page.locator("[name=new-county]").select_option(label="Nairobi")
    if not js:
        with page.expect_navigation():
            page.get_by_role("button", name=sw("Update delivery fee")).click()
    expect(page.get_by_test_id("delivery-fee")).to_have_text(f"KES {NAIROBI_FEE:,.0f}")
    expect(page.get_by_test_id("pay")).to_contain_text(sw("Pay with M-Pesa"))
    expect_accessible(page, "checkout in Kiswahili")

    page.get_by_test_id("pay").click()
    expect(page).to_have_url(STATUS_URL)
    order = Order.objects.get(number=STATUS_URL.search(page.url).group(1))
    expect(payment_status(page).get_by_role("heading")).to_have_text(sw("Check your phone"))
    wait_for_result(page, "paid", js=js)
    [receipt] = simulator_receipts(sim)
    expect(payment_status(page).get_by_role("heading")).to_have_text(sw("Payment received"))
    expect(page.get_by_test_id("payment-message")).to_contain_text(receipt)
    expect_accessible(page, "paid in Kiswahili")

    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.language == "sw"  # its emails and texts


def test_kiswahili_on_a_phone_with_javascript(browser, browser_context_args, sim, page_errors):
    context = browser.new_context(**browser_context_args, viewport=PHONE)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        shopper_buys_in_kiswahili(page, sim, js=True, phone=True)
    finally:
        context.close()
    assert page_errors == []


def test_kiswahili_without_javascript(page_without_js: Page, sim):
    shopper_buys_in_kiswahili(page_without_js, sim, js=False, phone=False)
