"""axe on the shopper pages the other journeys pass by without checking.

The shop's own pages (delivery, returns, privacy and the rest, from the
footer), a search that finds nothing, the brands, a missing page, finding
an order as a guest, signing in after a wrong password, and every page of
the account menu, a new address refused included. Once with JavaScript on
at desktop width, once with it off on a 390 px phone. The other journeys
check the catalogue, cart, wishlist, checkout, payment, order and review
pages on their way (tests/journeys/axe.py).
"""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import Address

from .axe import expect_accessible
from .test_shopping import PASSWORD, make_user

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

PHONE = {"width": 390, "height": 844}


def footer_pages(page: Page) -> list[str]:
    nav = page.get_by_test_id("footer-pages").get_by_role("navigation")
    hrefs = nav.get_by_role("link").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert len(hrefs) >= 4, hrefs
    return hrefs


def visitor_reads_the_shop(page: Page) -> None:
    page.goto("/")
    for href in footer_pages(page):
        page.goto(href)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect_accessible(page, "the shop's own page")

    page.goto(reverse("shop:search") + "?q=qwzxv")
    expect(page.get_by_role("main")).to_contain_text("No products match")
    expect_accessible(page, "search, nothing found")
    page.goto(reverse("shop:brand-list"))
    expect_accessible(page, "brands")
    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    expect_accessible(page, "missing page")
    page.goto(reverse("shop:order-list"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Find your order")
    expect_accessible(page, "find an order")


def shopper_walks_the_account(page: Page, email: str) -> None:
    user = make_user(email)
    Address.objects.create(
        user=user,
        recipient_name="Wambui Kariuki",
        phone="254712345678",
        county=47,  # Nairobi
        town="Lavington",
        street="James Gichuru Road",
        is_default=True,
    )
    page.goto(reverse("account_login"))
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("input[name=password]")).to_be_visible()
    expect(page.get_by_role("navigation", name="Account")).not_to_contain_text("Sign out")
    expect_accessible(page, "sign-in refused")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Sign out")

    page.goto(reverse("accounts:overview"))
    menu = page.get_by_role("main").get_by_role("navigation", name="My account")
    hrefs = menu.get_by_role("link").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    hrefs = [href for href in hrefs if href != reverse("account_logout")]
    assert reverse("accounts:your-data") in hrefs, hrefs
    for href in hrefs:
        page.goto(href)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect_accessible(page, "account page")

    page.goto(reverse("accounts:address-create"))
    page.locator("[name=recipient_name]").fill("Wambui Kariuki")
    page.locator("[name=phone]").fill("0712 34")  # too short: the shop refuses it
    page.locator("[name=county]").select_option(label="Kiambu")
    page.locator("[name=town]").fill("Ruaka")
    page.locator("[name=street]").fill("Limuru Road")
    with page.expect_navigation():
        page.get_by_role("button", name="Save address").click()
    expect(page.locator("[id^=error_]").first).to_be_visible()  # refused, errors shown
    expect_accessible(page, "new address refused")
    page.goto(reverse("accounts:account-delete"))
    expect(page.get_by_role("button", name="Delete my account")).to_be_visible()
    expect_accessible(page, "delete the account")


def test_with_javascript_the_remaining_shopper_pages_pass_axe(page: Page, page_errors: list[str]):
    visitor_reads_the_shop(page)
    shopper_walks_the_account(page, "wambui.js@example.com")
    assert page_errors == []


def test_without_javascript_on_a_phone_the_remaining_shopper_pages_pass_axe(
    page_without_js: Page,
):
    page_without_js.set_viewport_size(PHONE)
    visitor_reads_the_shop(page_without_js)
    shopper_walks_the_account(page_without_js, "wambui.nojs@example.com")
