"""Catalogue journeys in Chromium: browse, filter, sort, pick a variant, go Back.

Each journey runs with JavaScript on (htmx swaps fragments and pushes URLs)
and off (plain GET forms and links), and pushed URLs must reload as whole
pages. "Whole page" means the site header (search form, category nav), one
``<main>`` and the footer are there exactly once: a bare fragment, or a page
nested inside a fragment's slot, fails it.
"""

import re
from decimal import Decimal

import pytest
from django.db.models import Q
from playwright.sync_api import Locator, Page, expect

from shop.models import Product, ProductVariant
from storefront.money import format_kes

from .axe import expect_accessible

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

SAMSUNG = re.compile(r"^Samsung\b")
PRICE = re.compile(r"KES ([\d,]+(?:\.\d\d)?)")
HISTORY_CACHE = "htmx-history-cache"  # htmx 2 keeps its Back snapshots here


# Helpers ------------------------------------------------------------------


def expect_whole_page(page: Page) -> None:
    """Assert the full layout is there, once: header, nav, main, footer."""
    expect(page.get_by_role("search")).to_have_count(1)
    expect(page.get_by_role("searchbox", name="Search products")).to_be_visible()
    expect(page.get_by_role("navigation", name="Categories")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.locator("footer")).to_have_count(1)
    expect(page.get_by_role("contentinfo")).to_contain_text("M-Pesa")


def samsung_phones_by_price() -> list[str]:
    """Names of the active Samsung products under Phones, cheapest first."""
    in_phones = Q(category__slug="phones") | Q(category__parent__slug="phones")
    products = Product.objects.active().filter(in_phones, brand__slug="samsung")
    return list(products.order_by("price", "id").values_list("name", flat=True))


def results(page: Page) -> Locator:
    return page.locator("#results")


def card_names(page: Page) -> Locator:
    return results(page).get_by_role("heading", level=3)


def card_prices(page: Page) -> list[Decimal]:
    """The shown price of each product card, in page order."""
    prices = []
    for text in results(page).get_by_role("listitem").all_inner_texts():
        match = PRICE.search(text)
        assert match, f"no price on card {text!r}"
        prices.append(Decimal(match.group(1).replace(",", "")))
    return prices


def brand_checkbox(page: Page) -> Locator:
    return page.get_by_role("checkbox", name=SAMSUNG)


def sort_select(page: Page) -> Locator:
    return page.get_by_label("Sort by")


def expect_samsung_by_price(page: Page) -> None:
    """The list shows exactly the Samsung phones, cheapest first."""
    names = samsung_phones_by_price()
    assert len(names) >= 3, "the demo catalogue should have several Samsung phones"
    expect(card_names(page)).to_have_text(names)
    prices = card_prices(page)
    assert prices == sorted(prices), f"prices not ascending: {prices}"
    expect(results(page)).to_contain_text(f"{len(names)} products")


def expect_samsung_only(page: Page) -> None:
    """The list shows the Samsung phones (any order) and nothing else."""
    names = samsung_phones_by_price()
    expect(card_names(page)).to_have_count(len(names))
    assert sorted(card_names(page).all_inner_texts()) == sorted(names)


def set_marker(page: Page) -> None:
    page.evaluate("window.__marker = 1")


def assert_no_page_load(page: Page, step: str) -> None:
    """A value set on ``window`` survives only if the document was kept."""
    assert page.evaluate("window.__marker") == 1, f"{step} loaded a whole new page"


def variant_of(link: Locator) -> ProductVariant:
    """The variant a picker link points at (``?variant=<pk>``)."""
    href = link.get_attribute("href") or ""
    match = re.fullmatch(r"\?variant=(\d+)", href)
    assert match, f"variant option is not a ?variant= link: {href!r}"
    return ProductVariant.objects.get(pk=match.group(1))


def shown_variant(page: Page) -> ProductVariant:
    return ProductVariant.objects.get(sku=page.get_by_test_id("sku").inner_text().strip())


def storage_options(page: Page) -> Locator:
    return page.get_by_role("group", name="Storage").get_by_role("link")


def other_storage(page: Page) -> tuple[Locator, ProductVariant]:
    """A Storage option that is not selected and costs something else."""
    current = shown_variant(page)
    for link in storage_options(page).all():
        if link.get_attribute("aria-current") != "true":
            variant = variant_of(link)
            if variant.price != current.price:
                return link, variant
    raise AssertionError(f"no other storage with another price than {current.sku}")


def expect_variant(page: Page, variant: ProductVariant) -> None:
    """Price, SKU and the selected Storage option are *variant*'s."""
    kes = re.escape(format_kes(variant.price))
    expect(page.get_by_test_id("price")).to_have_text(re.compile(rf"^\s*{kes}(\s|$)"))
    expect(page.get_by_test_id("sku")).to_have_text(variant.sku)
    storage = variant.values.get(attribute__slug="storage").value
    expect(page.get_by_role("group", name="Storage").locator("[aria-current=true]")).to_have_text(
        storage
    )


def open_phones(page: Page, *, check_accessible: bool = False) -> None:
    """Home → the Phones tile under "Top categories" (axe on both if *check_accessible*)."""
    page.goto("/")
    expect_whole_page(page)
    if check_accessible:
        expect_accessible(page, "home")
    top = page.get_by_role("region", name="Top categories")
    top.get_by_role("link", name="Phones", exact=True).click()
    expect(page).to_have_url(re.compile(r"/c/phones/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Phones")
    if check_accessible:
        expect_accessible(page, "category listing")


def filter_and_sort_with_htmx(page: Page) -> None:
    """Tick Samsung, then sort by price, each without a page load."""
    set_marker(page)
    with page.expect_response(lambda r: "brand=samsung" in r.url) as fragment:
        brand_checkbox(page).check()
    assert fragment.value.request.headers.get("hx-request") == "true"
    # Chromium does not reuse an XHR's cached fragment for a later Back/reload,
    # but other browsers and proxies can: the fragment must vary on HX-Request.
    assert "hx-request" in (fragment.value.headers.get("vary") or "").lower()
    expect(page).to_have_url(re.compile(r"/c/phones/\?(.*&)?brand=samsung(&|$)"))
    expect_samsung_only(page)
    assert_no_page_load(page, "ticking a brand")

    sort_select(page).select_option(label="Price: low to high")
    expect(page).to_have_url(re.compile(r"[?&]sort=price-asc(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]brand=samsung(&|$)"))
    expect_samsung_by_price(page)
    assert_no_page_load(page, "sorting")
    expect_whole_page(page)


def pick_other_storage_with_htmx(page: Page) -> tuple[ProductVariant, ProductVariant]:
    """Pick another Storage option; return (previous variant, picked variant)."""
    before = shown_variant(page)
    link, picked = other_storage(page)
    set_marker(page)
    link.click()
    expect(page).to_have_url(re.compile(rf"\?variant={picked.pk}$"))
    expect_variant(page, picked)
    assert picked.sku != before.sku
    assert_no_page_load(page, "picking a variant")
    expect_whole_page(page)
    return before, picked


# Journeys -----------------------------------------------------------------


def test_shopper_with_javascript_filters_sorts_picks_variant_and_goes_back(
    page: Page, page_errors: list[str]
):
    """With htmx: filter, sort and variant swap in place, push URLs, and Back works."""
    open_phones(page, check_accessible=True)
    filter_and_sort_with_htmx(page)
    expect_accessible(page, "filtered and sorted with htmx")
    list_url = page.url

    card_names(page).first.get_by_role("link").click()
    cheapest = samsung_phones_by_price()[0]
    expect(page.get_by_role("heading", level=1)).to_have_text(cheapest)
    expect_accessible(page, "product page")
    product_url = page.url
    before, picked = pick_other_storage_with_htmx(page)
    expect_accessible(page, "variant picked with htmx")

    page.go_back()
    expect(page).to_have_url(product_url)
    expect_variant(page, before)
    expect_whole_page(page)

    page.go_back()
    expect(page).to_have_url(list_url)
    expect_samsung_by_price(page)
    expect(brand_checkbox(page)).to_be_checked()
    expect(sort_select(page)).to_have_value("price-asc")
    expect_whole_page(page)
    expect_accessible(page, "list restored by Back")

    page.go_forward()
    expect(page).to_have_url(product_url)
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"\?variant={picked.pk}$"))
    expect_variant(page, picked)
    expect_whole_page(page)
    assert page_errors == []


def test_back_restored_by_the_server_is_a_whole_page(page: Page, page_errors: list[str]):
    """When htmx's history cache misses, Back asks the server and gets a whole page.

    htmx then sends ``HX-Request`` and ``HX-History-Restore-Request`` and puts
    the response in ``<body>``: a view answering that with its fragment would
    leave the shopper on a page with no header, nav or footer.
    """

    def is_restore(request) -> bool:
        return request.headers.get("hx-history-restore-request") == "true"

    open_phones(page)
    filter_and_sort_with_htmx(page)
    page.evaluate(f"sessionStorage.removeItem('{HISTORY_CACHE}')")
    with page.expect_request(is_restore) as restore:
        page.go_back()
    assert "brand=samsung" in restore.value.url
    assert "sort=price-asc" not in restore.value.url
    expect(page).not_to_have_url(re.compile(r"sort=price-asc"))
    expect_whole_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Phones")
    expect_samsung_only(page)
    expect(brand_checkbox(page)).to_be_checked()
    expect(sort_select(page)).to_have_value("")
    assert_no_page_load(page, "Back")

    card_names(page).first.get_by_role("link").click()
    product_url = page.url
    before, _picked = pick_other_storage_with_htmx(page)
    page.evaluate(f"sessionStorage.removeItem('{HISTORY_CACHE}')")
    with page.expect_request(is_restore) as restore:
        page.go_back()
    assert restore.value.url == product_url
    expect(page).to_have_url(product_url)
    expect_whole_page(page)
    expect_variant(page, before)
    assert_no_page_load(page, "Back")
    assert page_errors == []


def test_back_within_the_list_keeps_the_filter_form_in_step_with_the_results(page: Page):
    """After Back to the brand-filtered list, the brand box is still ticked."""
    open_phones(page)
    filter_and_sort_with_htmx(page)
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"sort=price-asc"))
    expect_samsung_only(page)
    expect_whole_page(page)
    expect(brand_checkbox(page)).to_be_checked()
    page.go_forward()
    expect(sort_select(page)).to_have_value("price-asc")


def test_shopper_without_javascript_filters_sorts_picks_variant_and_goes_back(
    page_without_js: Page,
):
    """Without JS: Apply submits a GET form and variant links load whole pages."""
    page = page_without_js
    open_phones(page, check_accessible=True)

    brand_checkbox(page).check()
    sort_select(page).select_option(label="Price: low to high")
    expect(page).to_have_url(re.compile(r"/c/phones/$"))  # nothing happens until Apply
    with page.expect_response(lambda r: r.request.is_navigation_request()) as response:
        page.get_by_role("button", name="Apply").click()
    assert response.value.request.method == "GET"
    assert "hx-request" not in response.value.request.headers
    expect(page).to_have_url(re.compile(r"[?&]brand=samsung(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]sort=price-asc(&|$)"))
    expect_whole_page(page)
    expect_samsung_by_price(page)
    expect(brand_checkbox(page)).to_be_checked()
    expect(sort_select(page)).to_have_value("price-asc")
    expect_accessible(page, "filtered and sorted")
    list_url = page.url

    card_names(page).first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(samsung_phones_by_price()[0])
    product_url = page.url
    before = shown_variant(page)
    expect_variant(page, before)
    link, picked = other_storage(page)
    with page.expect_response(lambda r: r.request.is_navigation_request()) as response:
        link.click()
    assert response.value.url == f"{product_url}?variant={picked.pk}"
    assert "hx-request" not in response.value.request.headers
    expect(page).to_have_url(f"{product_url}?variant={picked.pk}")
    expect_whole_page(page)
    expect_variant(page, picked)
    expect_accessible(page, "variant picked")

    page.go_back()
    expect(page).to_have_url(product_url)
    expect_whole_page(page)
    expect_variant(page, before)

    page.go_back()
    expect(page).to_have_url(list_url)
    expect_whole_page(page)
    expect_samsung_by_price(page)
    expect(brand_checkbox(page)).to_be_checked()


def test_reloading_pushed_urls_renders_whole_pages(page: Page, page_errors: list[str]):
    """A reload of a URL htmx pushed gives the whole page in the same state."""
    open_phones(page)
    filter_and_sort_with_htmx(page)
    list_url = page.url
    response = page.reload()
    assert response is not None
    assert response.ok
    expect(page).to_have_url(list_url)
    expect_whole_page(page)
    expect_samsung_by_price(page)
    expect(brand_checkbox(page)).to_be_checked()
    expect(sort_select(page)).to_have_value("price-asc")

    card_names(page).first.get_by_role("link").click()
    _before, picked = pick_other_storage_with_htmx(page)
    variant_url = page.url
    response = page.reload()
    assert response is not None
    assert response.ok
    expect(page).to_have_url(variant_url)
    expect_whole_page(page)
    expect_variant(page, picked)
    assert page_errors == []
