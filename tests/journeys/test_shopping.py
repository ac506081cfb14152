"""Shopping journeys in Chromium: cart, sign-up merge, wishlist, password reset.

Each journey runs with JavaScript on (htmx posts forms and swaps fragments)
and off (plain POST forms that redirect back).
"""

import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from playwright.sync_api import Page, expect

from shop.models import Cart, Product, ProductVariant, WishlistItem
from storefront.money import format_kes

from .axe import expect_accessible

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

PASSWORD = "Plum-Kettle-Harbour-42"
NEW_PASSWORD = "Quartz-Meadow-Lantern-77"


# Helpers ------------------------------------------------------------------


def make_user(email: str, password: str = PASSWORD):
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def cart_count(page: Page):
    return page.get_by_test_id("cart-count")


def set_marker(page: Page) -> None:
    page.evaluate("window.__marker = 1")


def assert_no_page_load(page: Page, step: str) -> None:
    assert page.evaluate("window.__marker") == 1, f"{step} loaded a whole new page"


def product_with_two_variants() -> Product:
    """An active product with at least two in-stock variants."""
    for product in Product.objects.active().order_by("id"):
        in_stock = [v for v in product.variants.filter(is_active=True) if v.in_stock]
        if len(in_stock) >= 2:
            return product
    raise AssertionError("the demo catalogue should have a product with two variants")


def buy_box_option_links(page: Page):
    return page.locator("#buy-box a[href^='?variant=']")


def other_in_stock_variant(page: Page, current: ProductVariant) -> tuple[str, ProductVariant]:
    """A picker link on the page to another in-stock variant: (href, variant)."""
    for href in buy_box_option_links(page).evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    ):
        variant = ProductVariant.objects.get(pk=href.removeprefix("?variant="))
        if variant.pk != current.pk and variant.in_stock:
            return href, variant
    raise AssertionError(f"no other in-stock option linked from {current.sku}")


def shown_variant(page: Page) -> ProductVariant:
    return ProductVariant.objects.get(sku=page.get_by_test_id("sku").inner_text().strip())


def add_to_cart(page: Page, *, js: bool) -> None:
    button = page.get_by_role("button", name="Add to cart")
    if js:
        with page.expect_response(lambda r: r.url.endswith("/cart/add/")) as response:
            button.click()
        assert response.value.request.headers.get("hx-request") == "true"
        expect(page.locator("#cart-feedback")).to_contain_text("to your cart")
    else:
        with page.expect_navigation():
            button.click()


def cart_lines(page: Page):
    return page.get_by_test_id("cart-line")


def quantity_input(page: Page, variant: ProductVariant):
    return cart_lines(page).filter(has_text=variant.sku).get_by_role("spinbutton")


def expect_cart(page: Page, quantities: dict[ProductVariant, int]) -> None:
    """The cart page shows exactly these lines and quantities, and their subtotal."""
    expect(cart_lines(page)).to_have_count(len(quantities))
    subtotal = Decimal("0")
    for variant, quantity in quantities.items():
        expect(quantity_input(page, variant)).to_have_value(str(quantity))
        subtotal += variant.price * quantity
    expect(page.get_by_test_id("subtotal")).to_have_text(format_kes(subtotal))


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto(reverse("account_login"))
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Sign out")


# Journey 1: visitor cart → sign up → merged cart ---------------------------


def visitor_fills_cart_and_signs_up(page: Page, *, js: bool, email: str) -> None:
    product = product_with_two_variants()
    page.goto(product.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(product.name)
    expect(cart_count(page)).to_have_text("0")
    first = shown_variant(page)
    if not first.in_stock:
        href, first = other_in_stock_variant(page, first)
        page.goto(product.get_absolute_url() + href)
    expect(page.get_by_test_id("sku")).to_have_text(first.sku)

    if js:
        set_marker(page)
    add_to_cart(page, js=js)
    expect(cart_count(page)).to_have_text("1")
    if js:
        assert_no_page_load(page, "adding to the cart")
    else:
        expect(page).to_have_url(
            re.compile(rf"{re.escape(product.get_absolute_url())}\?variant={first.pk}$")
        )
        expect(page.locator("#messages")).to_contain_text(f"Added {first}")
    expect_accessible(page, "added to the cart")

    href, second = other_in_stock_variant(page, first)
    buy_box_option_links(page).and_(page.locator(f"[href='{href}']")).first.click()
    expect(page.get_by_test_id("sku")).to_have_text(second.sku)
    add_to_cart(page, js=js)
    expect(cart_count(page)).to_have_text("2")
    if js:
        assert_no_page_load(page, "picking a variant and adding it")

    page.goto(reverse("shop:cart"))
    expect_cart(page, {first: 1, second: 1})
    quantity_input(page, first).fill("3")
    page.get_by_test_id("cart-line").filter(has_text=first.sku).get_by_role(
        "button", name="Update"
    ).click()
    expect_cart(page, {first: 3, second: 1})
    expect(cart_count(page)).to_have_text("4")
    if not js:
        expect(page).to_have_url(re.compile(r"/cart/$"))
    expect_accessible(page, "cart after an update")

    page.goto(reverse("account_signup"))
    expect_accessible(page, "sign-up")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Sign out")

    page.goto(reverse("shop:cart"))
    expect_cart(page, {first: 3, second: 1})
    expect(cart_count(page)).to_have_text("4")
    user = get_user_model().objects.get(email=email)
    lines = {line.variant_id: line.quantity for line in Cart.objects.get(user=user).lines.all()}
    assert lines == {first.pk: 3, second.pk: 1}


def test_visitor_with_javascript_fills_cart_and_keeps_it_after_signup(
    page: Page, page_errors: list[str]
):
    visitor_fills_cart_and_signs_up(page, js=True, email="wanjiru@example.com")
    assert page_errors == []


def test_visitor_without_javascript_fills_cart_and_keeps_it_after_signup(page_without_js: Page):
    visitor_fills_cart_and_signs_up(page_without_js, js=False, email="otieno@example.com")


# Journey 2: wishlist → move to cart ----------------------------------------


def shopper_moves_wishlist_item_to_cart(page: Page, *, js: bool) -> None:
    email = "akinyi@example.com"
    user = make_user(email)
    product = product_with_two_variants()
    sign_in(page, email, PASSWORD)

    page.goto(product.get_absolute_url())
    variant = shown_variant(page)
    title_row = page.locator("div:has(> h1)")
    heart = title_row.get_by_role("button", name="Save to wishlist")
    expect(heart).to_have_attribute("aria-pressed", "false")
    if js:
        set_marker(page)
    heart.click()
    expect(title_row.get_by_role("button", name="Saved to wishlist")).to_have_attribute(
        "aria-pressed", "true"
    )
    if js:
        assert_no_page_load(page, "hearting a product")
    else:
        expect(page.locator("#messages")).to_contain_text("Saved to your wishlist.")
    expect_accessible(page, "saved to the wishlist")
    assert WishlistItem.objects.filter(user=user, product=product).count() == 1

    page.get_by_role("link", name="Wishlist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your wishlist")
    items = page.get_by_test_id("wishlist-item")
    expect(items).to_have_count(1)
    expect(items).to_contain_text(product.name)
    expect(cart_count(page)).to_have_text("0")
    expect_accessible(page, "wishlist")

    items.get_by_role("button", name="Move to cart").click()
    expect(page.get_by_role("main")).to_contain_text("Nothing saved yet.")
    expect(page.get_by_test_id("wishlist-item")).to_have_count(0)
    expect(cart_count(page)).to_have_text("1")
    expect_accessible(page, "wishlist emptied")
    assert not WishlistItem.objects.filter(user=user).exists()

    page.goto(reverse("shop:cart"))
    expect(cart_lines(page)).to_have_count(1)
    expect(cart_lines(page)).to_contain_text(product.name)
    expect(cart_lines(page)).to_contain_text(variant.sku)


def test_shopper_with_javascript_moves_wishlist_item_to_cart(page: Page, page_errors: list[str]):
    shopper_moves_wishlist_item_to_cart(page, js=True)
    assert page_errors == []


def test_shopper_without_javascript_moves_wishlist_item_to_cart(page_without_js: Page):
    shopper_moves_wishlist_item_to_cart(page_without_js, js=False)


# Journey 3: password reset by email ----------------------------------------


def shopper_resets_password(page: Page) -> None:
    email = "mwangi@example.com"
    make_user(email)
    mail.outbox.clear()

    page.goto(reverse("account_reset_password"))
    expect_accessible(page, "password reset")
    page.locator("input[name=email]").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("account_reset_password_done")) + "$"))

    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    message = mail.outbox[0]
    assert message.to == [email]
    match = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", message.body)
    assert match, f"no reset link in {message.body!r}"

    page.goto(match.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    expect_accessible(page, "new password")
    page.locator("input[name=password1]").fill(NEW_PASSWORD)
    page.locator("input[name=password2]").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(
        re.compile(re.escape(reverse("account_reset_password_from_key_done")) + "$")
    )

    sign_in(page, email, NEW_PASSWORD)
    assert get_user_model().objects.get(email=email).check_password(NEW_PASSWORD)


def test_shopper_with_javascript_resets_password_from_the_email(page: Page, page_errors: list[str]):
    shopper_resets_password(page)
    assert page_errors == []


def test_shopper_without_javascript_resets_password_from_the_email(page_without_js: Page):
    shopper_resets_password(page_without_js)
