"""The shop on a cheap phone: a 390 × 844 screen, with JavaScript on and off.

What the shopper must see without scrolling: the first products of a list,
category or search (the filters wait behind "Filters"), and a product's price,
options and Add to cart. Picking a colour shows that colour's pictures (and
the cart shows the one bought), an option sold out with the other choices is
marked before it is clicked, prices typed quickly are kept, and subcategories
open from the menu.
"""

import re
import weakref
from decimal import Decimal

import pytest
from playwright.sync_api import Locator, Page, expect
from sorl.thumbnail import get_thumbnail

from shop.fragments import catalogue_changed
from shop.models import Product, ProductVariant

from . import axe

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

PHONE = {"width": 390, "height": 844}
PRICE = re.compile(r"KES ([\d,]+)")
SAMSUNG = re.compile(r"^Samsung\b")

_without_js: weakref.WeakSet[Page] = weakref.WeakSet()
_errors: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


def _open(browser, browser_context_args, *, js: bool):
    context = browser.new_context(
        **{**browser_context_args, "viewport": PHONE}, java_script_enabled=js
    )
    page = context.new_page()
    errors = _errors.setdefault(page, [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    if not js:
        _without_js.add(page)
        axe.mark_without_js(page)
    return context, page


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def phone(request, browser, browser_context_args) -> Page:
    """A page on a 390 × 844 screen, with JavaScript on, then off."""
    context, page = _open(browser, browser_context_args, js=request.param)
    yield page
    assert _errors[page] == [], "script errors or refusals by the Content-Security-Policy"
    context.close()


@pytest.fixture
def phone_js(browser, browser_context_args) -> Page:
    context, page = _open(browser, browser_context_args, js=True)
    yield page
    assert _errors[page] == [], "script errors or refusals by the Content-Security-Policy"
    context.close()


@pytest.fixture
def phone_without_js(browser, browser_context_args) -> Page:
    context, page = _open(browser, browser_context_args, js=False)
    yield page
    context.close()


def has_js(page: Page) -> bool:
    return page not in _without_js


def first_card(page: Page) -> Locator:
    return page.locator("#results li").first


def expect_on_first_screen(locator: Locator, what: str, *, whole: bool = False) -> None:
    """*locator*'s top (or all of it) is on the first screen, the page unscrolled."""
    page = locator.page
    expect(locator).to_be_visible()
    assert page.evaluate("window.scrollY") == 0, f"{what}: the page was scrolled"
    box = locator.bounding_box()
    assert box is not None, what
    bottom = box["y"] + (box["height"] if whole else 1)
    assert 0 <= box["y"] and bottom <= PHONE["height"], f"{what} is at {box} on a 390 × 844 screen"


def filters(page: Page) -> Locator:
    return page.locator("#filters summary")


def card_prices(page: Page) -> list[Decimal]:
    texts = page.locator("#results li").all_inner_texts()
    return [Decimal(PRICE.search(t).group(1).replace(",", "")) for t in texts]


def submit_filters(page: Page) -> None:
    """Apply the filter form: htmx sends it on change; without JS, press Apply."""
    if not has_js(page):
        with page.expect_navigation():
            page.get_by_role("button", name="Apply").click()


# The first screen ----------------------------------------------------------------


def test_the_first_products_are_on_the_first_screen(phone: Page):
    for url in ["/products/", "/c/phones/", "/search/?q=samsung"]:
        phone.goto(url)
        expect_on_first_screen(first_card(phone), f"first product of {url}")
        expect_on_first_screen(phone.get_by_label("Sort by"), f"sort of {url}", whole=True)
        expect(phone.get_by_role("checkbox", name=SAMSUNG)).to_be_hidden()  # behind Filters

    phone.goto("/c/phones/")
    filters(phone).click()
    brand = phone.get_by_role("checkbox", name=SAMSUNG)
    expect(brand).to_be_visible()
    axe.expect_accessible(phone, "filters open")
    brand.check()
    submit_filters(phone)
    expect(phone).to_have_url(re.compile(r"[?&]brand=samsung(&|$)"))
    expect(filters(phone)).to_have_text(re.compile(r"Filters \(1\)"))
    if has_js(phone):
        # Only the results and the counts were swapped: the panel stays open.
        expect(brand).to_be_visible()
        expect(brand).to_be_checked()
        filters(phone).click()
    expect(brand).to_be_hidden()
    expect_on_first_screen(first_card(phone), "first Samsung phone")
    assert all(n.startswith("Samsung") for n in phone.locator("#results h3").all_inner_texts())


def test_add_to_cart_is_on_the_first_screen(phone: Page):
    products = Product.objects.active().filter(category__slug="smartphones").order_by("pk")
    assert products.count() >= 10
    for product in products:
        phone.goto(product.get_absolute_url())
        button = phone.get_by_role("button", name="Add to cart")
        what = f"Add to cart of {product.name}"
        expect_on_first_screen(button, what, whole=True)
        expect_on_first_screen(
            phone.get_by_test_id("price"), f"price of {product.name}", whole=True
        )
        expect_on_first_screen(
            phone.get_by_role("group", name="Storage"), f"{product.name}'s storage"
        )
    axe.expect_accessible(phone, "product page")
    if has_js(phone):
        button.click()
        expect(phone.get_by_test_id("cart-count")).to_have_text("1")
    else:
        with phone.expect_navigation():
            button.click()
        expect(phone.get_by_role("status")).to_contain_text("Added")


# Variant pictures and sold-out options ---------------------------------------------


def gallery_alts(page: Page) -> list[str]:
    return page.locator("#gallery figure img").evaluate_all("imgs => imgs.map(i => i.alt)")


def test_picking_a_colour_shows_its_pictures_also_in_the_cart(phone: Page):
    product = Product.objects.get(slug="samsung-galaxy-a15")
    ProductVariant.objects.filter(product=product).update(stock_on_hand=5, stock_allocated=0)
    catalogue_changed()
    phone.goto(product.get_absolute_url())
    main = phone.locator("#gallery figure img").first
    before = main.get_attribute("src")
    assert all("Light Blue" not in alt for alt in gallery_alts(phone))
    phone.evaluate("window.__marker = 1")

    light_blue = phone.get_by_role("group", name="Colour").get_by_role(
        "link", name=re.compile("^Light Blue")
    )
    light_blue.click()
    expect(phone).to_have_url(re.compile(r"\?variant=\d+$"))
    expect(main).not_to_have_attribute("src", before)
    expect(main).to_have_attribute("alt", "Samsung Galaxy A15 Light Blue")
    assert all(alt.endswith("Light Blue") for alt in gallery_alts(phone)), gallery_alts(phone)
    assert (phone.evaluate("window.__marker") == 1) == has_js(phone)  # htmx: no page load
    variant = ProductVariant.objects.get(sku=phone.get_by_test_id("sku").inner_text())
    assert variant.values.filter(value="Light Blue").exists()

    # The other storage in the same colour keeps the colour's pictures.
    other = phone.get_by_role("group", name="Storage").locator("a:not([aria-current])").first
    other.click()
    expect(phone.get_by_test_id("sku")).not_to_have_text(variant.sku)
    expect(main).to_have_attribute("alt", "Samsung Galaxy A15 Light Blue")
    variant = ProductVariant.objects.get(sku=phone.get_by_test_id("sku").inner_text())
    assert not variant.images.exists()  # it shows the pictures of the Light Blue it looks like

    phone.get_by_role("button", name="Add to cart").click()
    expect(phone.get_by_test_id("cart-count")).to_have_text("1")
    phone.goto("/cart/")
    expect(phone.get_by_test_id("cart-line")).to_contain_text(variant.sku)
    picture = product.images.get(alt="Samsung Galaxy A15 Light Blue")
    thumb = get_thumbnail(picture.image, "160x160", crop="center", format="WEBP")
    expect(phone.get_by_test_id("cart-line").locator("img")).to_have_attribute("src", thumb.url)


def test_a_sold_out_combination_is_marked_before_it_is_clicked(phone: Page):
    product = Product.objects.get(slug="samsung-galaxy-a15")
    variants = {
        tuple(sorted(v.values.values_list("value", flat=True))): v for v in product.variants.all()
    }
    ProductVariant.objects.filter(product=product).update(stock_on_hand=5, stock_allocated=0)
    gone = variants["128 GB", "Light Blue"]
    ProductVariant.objects.filter(pk=gone.pk).update(stock_on_hand=0)
    catalogue_changed()

    phone.goto(f"{product.get_absolute_url()}?variant={variants['128 GB', 'Black'].pk}")
    colours = phone.get_by_role("group", name="Colour")
    light_blue = colours.get_by_role("link", name=re.compile("^Light Blue"))
    expect(light_blue).to_have_accessible_name(re.compile(r"Light Blue.*out of stock"))
    expect(light_blue).to_have_css("text-decoration-line", "line-through")
    expect(light_blue).to_have_attribute("href", f"?variant={gone.pk}")  # still a link
    storages = phone.get_by_role("group", name="Storage")
    expect(storages.get_by_role("link", name="256 GB")).to_have_css("text-decoration-line", "none")

    # With 256 GB chosen, Light Blue is there to buy.
    storages.get_by_role("link", name="256 GB").click()
    expect(phone.get_by_test_id("sku")).to_have_text(variants["256 GB", "Black"].sku)
    expect(colours.get_by_role("link", name=re.compile("^Light Blue"))).to_have_accessible_name(
        "Light Blue"
    )
    expect(storages.get_by_role("link", name=re.compile("^128 GB"))).to_have_accessible_name(
        "128 GB"
    )
    axe.expect_accessible(phone, "options marked")


# Prices typed quickly ----------------------------------------------------------------


def test_typing_a_minimum_then_a_maximum_quickly_keeps_both(phone_js: Page):
    """htmx sends the minimum when it is left; its answer must not wipe the maximum being typed.

    The maximum is typed key by key while the minimum's answer comes back.
    """
    page = phone_js
    page.goto("/c/phones/")
    filters(page).click()
    low, high = page.get_by_label("Minimum price"), page.get_by_label("Maximum price")
    low.click()
    low.press_sequentially("10000", delay=20)
    with page.expect_response(lambda r: "min_price=10000" in r.url):
        low.press("Tab")  # change: the list is asked for with the minimum...
        high.press_sequentially("60000", delay=120)  # ...while the maximum is typed
    high.press("Tab")
    expect(page).to_have_url(re.compile(r"[?&]min_price=10000(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]max_price=60000(&|$)"))
    expect(low).to_have_value("10000")
    expect(high).to_have_value("60000")
    expect(filters(page)).to_have_text(re.compile(r"Filters \(1\)"))
    expect(page.locator("#results")).to_contain_text("products")
    prices = card_prices(page)
    assert prices and all(10000 <= p <= 60000 for p in prices), prices


def test_prices_without_javascript_are_applied_together(phone_without_js: Page):
    page = phone_without_js
    page.goto("/c/phones/")
    filters(page).click()
    page.get_by_label("Minimum price").fill("10000")
    page.get_by_label("Maximum price").fill("60000")
    submit_filters(page)
    expect(page).to_have_url(re.compile(r"min_price=10000.*max_price=60000"))
    expect(page.get_by_label("Maximum price")).to_be_hidden()  # a new page: the panel is closed
    prices = card_prices(page)
    assert prices and all(10000 <= p <= 60000 for p in prices), prices


# Subcategories ---------------------------------------------------------------------------


def test_subcategories_open_from_the_menu_and_the_parent_page(phone: Page):
    phone.goto("/")
    menu = phone.get_by_role("navigation", name="Categories")
    smartphones = menu.get_by_role("link", name="Smartphones")
    expect(smartphones).to_be_hidden()
    menu.locator("summary", has_text="Phones").click()
    expect(smartphones).to_be_visible()
    expect(menu.get_by_role("link", name="All Phones")).to_be_visible()
    axe.expect_accessible(phone, "category menu open")
    smartphones.click()
    expect(phone).to_have_url(re.compile(r"/c/smartphones/$"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Smartphones")

    phone.goto("/c/audio/")
    chips = phone.get_by_role("navigation", name="Types of Audio")
    speakers = chips.get_by_role("link", name="Speakers")
    expect_on_first_screen(speakers, "the Speakers link on Audio", whole=True)
    expect_on_first_screen(first_card(phone), "first product of Audio")
    speakers.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Speakers")
