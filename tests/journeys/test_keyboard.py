"""A shopper buys with the keyboard alone, from the home page to a paid order.

Nothing but key presses after the first page load: Tab and Shift+Tab to move,
Enter and Space to follow links and press buttons, arrow keys on number
fields, and typing into the focused field (a closed ``<select>`` picks the
option typed). Wherever focus lands on the way it must be visible (an outline
or a ring), and an htmx swap must leave focus where the shopper was, not
throw it back to the top of the page. axe checks every page and htmx state
passed. The payment goes through the Daraja simulator, as in test_checkout.py.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from payments.tests.simulators import RunningSimulator
from shop.models import Order, Product, ProductVariant
from storefront.money import format_kes

from .axe import expect_accessible
from .test_checkout import PAYS, STATUS_URL, daraja, expect_paid  # noqa: F401 - daraja is a fixture
from .test_shopping import other_in_stock_variant, shown_variant

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

#: More Tab presses than any page here needs between two stops.
MAX_PRESSES = 150

#: What has focus, and whether it shows: an outline, or a ring drawn as a box shadow.
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const style = getComputedStyle(e);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const box = e.getBoundingClientRect();
  return {
    element: e.outerHTML.slice(0, 160),
    shown: outline || style.boxShadow !== "none",
    onScreen: box.width > 0 && box.height > 0,
  };
}"""


# Helpers ------------------------------------------------------------------


def expect_focus_visible(page: Page) -> None:
    state = page.evaluate(FOCUS)
    assert state is not None, "nothing has focus"
    assert state["onScreen"], f"focus is on something not drawn: {state['element']}"
    assert state["shown"], f"focus is not visible (no outline or ring) on {state['element']}"


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> int:
    """Press Tab (Shift+Tab *backwards*) until *target* has focus; return the presses.

    Every element focus passes on the way must show it.
    """
    key = "Shift+Tab" if backwards else "Tab"
    for presses in range(1, MAX_PRESSES + 1):
        page.keyboard.press(key)
        if page.evaluate(FOCUS) is None:
            continue  # past the last element, focus leaves the page for a moment
        expect_focus_visible(page)
        if target.evaluate("e => e === document.activeElement"):
            return presses
    raise AssertionError(f"{MAX_PRESSES} presses of {key} never reached {target}")


def type_into(page: Page, field: Locator, text: str) -> None:
    """Tab to *field* and type *text* into it."""
    tab_to(page, field)
    page.keyboard.type(text)


def product_to_buy() -> Product:
    """The cheapest product with two variants in stock (so there is one to pick)."""
    for variant in ProductVariant.objects.filter(is_active=True, product__is_active=True).order_by(
        "price", "id"
    ):
        in_stock = [v for v in variant.product.variants.filter(is_active=True) if v.in_stock]
        if len(in_stock) >= 2:
            return variant.product
    raise AssertionError("the demo catalogue should have a product with two variants in stock")


# The journey --------------------------------------------------------------


def test_shopper_buys_with_the_keyboard_alone(
    page: Page,
    page_errors: list[str],
    daraja: RunningSimulator,  # noqa: F811 - the fixture
):
    product = product_to_buy()
    page.goto("/")
    expect_accessible(page, "home")

    # The first Tab shows the skip link; the header's search box comes soon after.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    expect_focus_visible(page)
    type_into(page, page.get_by_role("searchbox", name="Search products"), product.name)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q="))
    result = page.locator("#results").get_by_role("link", name=product.name, exact=True)
    expect(result).to_be_visible()
    expect_accessible(page, "search results")

    # Skip the header and the filters' start: the next Tab lands inside <main>.
    tab_to(page, page.get_by_role("link", name="Skip to content"))
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null"), page.evaluate(
        "document.activeElement.outerHTML"
    )
    tab_to(page, result)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(product.name)
    expect_accessible(page, "product page")

    # Pick another variant: htmx swaps the buy box and focus stays on the option.
    first = shown_variant(page)
    href, picked = other_in_stock_variant(page, first)
    option = page.locator(f"#buy-box a[href='{href}']").first
    option_id = option.get_attribute("id")
    assert option_id, "variant options need an id for htmx to keep focus on them"
    tab_to(page, option)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("sku")).to_have_text(picked.sku)
    picked_option = page.locator(f"#{option_id}")
    expect(picked_option).to_have_attribute("aria-current", "true")
    expect(picked_option).to_be_focused()
    expect_focus_visible(page)
    expect_accessible(page, "variant picked")

    # Two of them: an arrow key on the quantity, then Space on "Add to cart".
    tab_to(page, page.get_by_role("spinbutton", name="Quantity"))
    page.keyboard.press("ArrowUp")
    expect(page.get_by_role("spinbutton", name="Quantity")).to_have_value("2")
    tab_to(page, page.get_by_role("button", name="Add to cart"))
    page.keyboard.press("Space")
    expect(page.locator("#cart-feedback")).to_contain_text("to your cart")
    expect(page.get_by_test_id("cart-count")).to_have_text("2")
    expect(page.get_by_role("button", name="Add to cart")).to_be_focused()
    expect_accessible(page, "added to the cart")

    # Back up to the header's cart link, and lower the quantity there to one.
    tab_to(page, page.locator("#cart-badge"), backwards=True)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    line = page.get_by_test_id("cart-line")
    expect(line).to_have_count(1)
    expect_accessible(page, "cart")
    quantity = line.get_by_role("spinbutton")
    tab_to(page, quantity)
    with page.expect_response(lambda r: "/cart/lines/" in r.url):
        page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("subtotal")).to_have_text(format_kes(picked.price))
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    expect(quantity).to_be_focused()  # the swapped-in field, by its id
    expect_accessible(page, "cart after an update")

    tab_to(page, page.get_by_test_id("checkout"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    expect_accessible(page, "checkout")

    type_into(page, page.get_by_label("Email"), "neema@example.com")
    type_into(page, page.locator("[name=new-recipient_name]"), "Neema Achieng")
    type_into(page, page.locator("[name=new-phone]"), "0712 345 678")
    with page.expect_response(lambda r: r.url.endswith("/checkout/")):
        type_into(page, page.get_by_label("County"), "Nairobi")
    expect(page.get_by_label("County")).to_have_value("47")
    expect(page.locator("#order-summary")).to_contain_text("Delivery to Nairobi")
    type_into(page, page.locator("[name=new-town]"), "Kileleshwa")
    type_into(page, page.locator("[name=new-street]"), "Othaya Road, Cedar Court")
    type_into(page, page.locator("[name=mpesa_phone]"), PAYS)
    expect_accessible(page, "checkout filled in")
    tab_to(page, page.get_by_test_id("pay"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(STATUS_URL)
    order = Order.objects.get(number=STATUS_URL.search(page.url).group(1))
    expect(page.locator("#payment-status")).to_have_attribute("data-state", "pending")
    expect_accessible(page, "waiting for M-Pesa")

    expect(page.locator("#payment-status")).to_have_attribute("data-state", "paid", timeout=12_000)
    total = page.get_by_test_id("order-total").inner_text().strip()
    expect_paid(page, order, daraja, total=total)
    expect_accessible(page, "paid")

    tab_to(page, page.get_by_test_id("follow-order"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(order.get_absolute_url())
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect_accessible(page, "order page")
    assert [(line.variant_id, line.quantity) for line in order.lines.all()] == [(picked.pk, 1)]
    assert (order.email, order.town) == ("neema@example.com", "Kileleshwa")
    assert page_errors == []
