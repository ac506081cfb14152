"""Wishlist and recently viewed products."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import CartLine, ProductVariant, RecentlyViewed, WishlistItem
from shop.recently_viewed import COOKIE

from .factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(client):
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw-123456!")
    client.force_login(user)
    return user


@pytest.fixture
def phone():
    return make_product(name="Galaxy A15", prices=("18999", "21999"), stock=3)


def toggle(client, product, **extra):
    return client.post(reverse("shop:wishlist-toggle"), {"product": product.pk, **extra})


def test_visitors_are_asked_to_sign_in_and_come_back(client, phone):
    response = toggle(client, phone, next=phone.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=%2Fp%2F" in response["Location"]
    htmx = client.post(
        reverse("shop:wishlist-toggle"), {"product": phone.pk}, headers={"HX-Request": "true"}
    )
    assert htmx["HX-Redirect"].startswith(reverse("account_login"))
    assert not WishlistItem.objects.exists()


def test_wishlist_page_needs_sign_in(client):
    response = client.get(reverse("shop:wishlist"))
    assert response.status_code == 302 and "next=/wishlist/" in response["Location"]


def test_toggle_adds_and_removes(client, shopper, phone):
    variant = phone.variants.order_by("-price").first()
    toggle(client, phone, variant=variant.pk)
    item = WishlistItem.objects.get(user=shopper)
    assert item.variant == variant
    page = client.get(reverse("shop:wishlist"))
    assert "Galaxy A15" in page.content.decode()
    toggle(client, phone)
    assert not WishlistItem.objects.exists()


def test_toggle_with_htmx_swaps_the_heart(client, shopper, phone):
    response = client.post(
        reverse("shop:wishlist-toggle"), {"product": phone.pk}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.startswith("<form") and 'aria-pressed="true"' in html
    assert b"<footer" not in response.content


@pytest.mark.parametrize("product_id", ["999999", "abc", ""])
def test_unknown_products_answer_404(client, shopper, product_id):
    assert client.post(reverse("shop:wishlist-toggle"), {"product": product_id}).status_code == 404


def test_move_to_cart(client, shopper, phone):
    variant = phone.variants.order_by("-price").first()
    toggle(client, phone, variant=variant.pk)
    item = WishlistItem.objects.get()
    response = client.post(reverse("shop:wishlist-move-to-cart", args=[item.pk]))
    assert response.status_code == 302
    assert list(CartLine.objects.values_list("variant_id", "quantity")) == [(variant.pk, 1)]
    assert not WishlistItem.objects.exists()


def test_move_to_cart_picks_a_variant_in_stock(client, shopper, phone):
    cheap, dear = phone.variants.order_by("price")
    ProductVariant.objects.filter(pk=cheap.pk).update(stock_on_hand=0)
    toggle(client, phone)
    client.post(reverse("shop:wishlist-move-to-cart", args=[WishlistItem.objects.get().pk]))
    assert list(CartLine.objects.values_list("variant_id", flat=True)) == [dear.pk]


def test_move_to_cart_refuses_sold_out_items_and_keeps_them(client, shopper, phone):
    phone.variants.update(stock_on_hand=0)
    toggle(client, phone)
    item = WishlistItem.objects.get()
    response = client.post(reverse("shop:wishlist-move-to-cart", args=[item.pk]), follow=True)
    assert "out of stock" in response.content.decode()
    assert WishlistItem.objects.filter(pk=item.pk).exists()
    assert not CartLine.objects.exists()


def test_another_shoppers_item_is_404(client, shopper, phone):
    other = get_user_model().objects.create_user("eve", "eve@example.com", "pw")
    item = WishlistItem.objects.create(user=other, product=phone)
    response = client.post(reverse("shop:wishlist-move-to-cart", args=[item.pk]))
    assert response.status_code == 404
    assert WishlistItem.objects.filter(pk=item.pk).exists()


def test_wishlist_page_queries_do_not_grow(client, shopper):
    products = [make_product(prices=("100",)) for _ in range(6)]

    def count():
        client.get(reverse("shop:wishlist"))
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("shop:wishlist"))
        return len(ctx.captured_queries)

    WishlistItem.objects.create(user=shopper, product=products[0])
    small = count()
    for product in products[1:]:
        WishlistItem.objects.create(user=shopper, product=product)
    assert count() == small


def test_hearts_show_saved_products_on_cards(client, shopper, phone):
    WishlistItem.objects.create(user=shopper, product=phone)
    html = client.get(reverse("shop:product-list")).content.decode()
    assert 'aria-pressed="true"' in html


# Recently viewed --------------------------------------------------------------


def test_visitor_history_is_a_cookie_not_a_session(client):
    products = [make_product(prices=("100",)) for _ in range(12)]
    for product in products:
        client.get(product.get_absolute_url())
    assert "sessionid" not in client.cookies
    html = client.get(products[-1].get_absolute_url()).content.decode()
    shown = [p.name for p in products[:-1] if p.name in html.split("Recently viewed")[-1]]
    assert len(shown) == 9  # the last 10, less the product on screen
    home = client.get("/")
    assert [p.pk for p in home.context["recently_viewed"]] == [p.pk for p in products[::-1][:10]]


def test_tampered_history_cookie_is_ignored(client):
    product = make_product(prices=("100",))
    client.cookies[COOKIE] = "1,2,3"  # not signed
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    assert response.context["recently_viewed"] == []


def test_shoppers_history_is_kept_and_merged_on_login(client, phone):
    other = make_product(name="iPhone 15", prices=("119999",))
    client.get(phone.get_absolute_url())
    client.get(other.get_absolute_url())
    user = get_user_model().objects.create_user("bob", "bob@example.com", "pw-123456!")
    client.post(reverse("account_login"), {"login": "bob@example.com", "password": "pw-123456!"})
    assert list(RecentlyViewed.objects.filter(user=user).values_list("product_id", flat=True)) == [
        other.pk,
        phone.pk,
    ]
    client.get(phone.get_absolute_url())
    assert RecentlyViewed.objects.filter(user=user).first().product_id == phone.pk
