"""The cart: services, pages, htmx fragments, tampering and concurrency."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop import services
from shop.carts import CART_SESSION_KEY
from shop.exceptions import InvalidQuantity, NotEnoughStock, VariantUnavailable
from shop.models import Cart, CartLine, ProductVariant

from .factories import make_product
from .threads import run_in_threads

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone():
    return make_product(name="Galaxy A15", prices=("18999", "21999"), stock=3)


@pytest.fixture
def variant(phone):
    return phone.variants.order_by("price").first()


def lines(cart) -> list[tuple[str, int]]:
    return sorted(cart.lines.values_list("variant__sku", "quantity"))


# Services -------------------------------------------------------------------


def test_add_creates_a_line_with_the_current_price(variant):
    cart = Cart.objects.create()
    line = services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=2)
    assert (line.quantity, line.price_when_added) == (2, Decimal("18999.00"))
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity="1")
    assert lines(cart) == [(variant.sku, 3)]


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "", None, "1.5", "1e3", "11"])
def test_add_refuses_bad_quantities(variant, quantity):
    cart = Cart.objects.create()
    with pytest.raises(InvalidQuantity):
        services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=quantity)
    assert lines(cart) == []


def test_add_cannot_exceed_stock_and_changes_nothing(variant):
    cart = Cart.objects.create()
    services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=2)
    with pytest.raises(NotEnoughStock, match="Only 3 of"):
        services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=2)
    assert lines(cart) == [(variant.sku, 2)]


def test_allocated_stock_is_not_available(variant):
    ProductVariant.objects.filter(pk=variant.pk).update(stock_allocated=3)
    with pytest.raises(NotEnoughStock, match="out of stock"):
        services.add_to_cart(cart=Cart.objects.create(), variant_id=variant.pk)


def test_inactive_variants_and_products_cannot_be_added(phone, variant):
    cart = Cart.objects.create()
    ProductVariant.objects.filter(pk=variant.pk).update(is_active=False)
    with pytest.raises(VariantUnavailable):
        services.add_to_cart(cart=cart, variant_id=variant.pk)
    other = phone.variants.exclude(pk=variant.pk).get()
    phone.is_active = False
    phone.save()
    with pytest.raises(VariantUnavailable):
        services.add_to_cart(cart=cart, variant_id=other.pk)
    assert lines(cart) == []


@pytest.mark.parametrize("variant_id", ["999999", "abc", "", None, "1; DROP TABLE"])
def test_unknown_variant_ids(variant_id):
    with pytest.raises(ProductVariant.DoesNotExist):
        services.add_to_cart(cart=Cart.objects.create(), variant_id=variant_id)


def test_update_and_remove_lines(variant):
    cart = Cart.objects.create()
    line = services.add_to_cart(cart=cart, variant_id=variant.pk)
    services.update_cart_line(cart=cart, line_id=line.pk, quantity="3")
    assert lines(cart) == [(variant.sku, 3)]
    with pytest.raises(NotEnoughStock):
        services.update_cart_line(cart=cart, line_id=line.pk, quantity="4")
    assert lines(cart) == [(variant.sku, 3)]
    assert services.update_cart_line(cart=cart, line_id=line.pk, quantity="0") is None
    assert lines(cart) == []


def test_lowering_quantity_is_allowed_even_when_stock_dropped(variant):
    cart = Cart.objects.create()
    line = services.add_to_cart(cart=cart, variant_id=variant.pk, quantity=3)
    ProductVariant.objects.filter(pk=variant.pk).update(stock_on_hand=1)
    with pytest.raises(NotEnoughStock):
        services.update_cart_line(cart=cart, line_id=line.pk, quantity=2)
    services.update_cart_line(cart=cart, line_id=line.pk, quantity=1)
    assert lines(cart) == [(variant.sku, 1)]


def test_lines_of_another_cart_cannot_be_touched(variant):
    mine, theirs = Cart.objects.create(), Cart.objects.create()
    their_line = services.add_to_cart(cart=theirs, variant_id=variant.pk)
    with pytest.raises(CartLine.DoesNotExist):
        services.update_cart_line(cart=mine, line_id=their_line.pk, quantity=2)
    with pytest.raises(CartLine.DoesNotExist):
        services.remove_cart_line(cart=mine, line_id=their_line.pk)
    assert lines(theirs) == [(variant.sku, 1)]


def test_merge_adds_quantities_capped_by_stock(phone, variant):
    other = phone.variants.exclude(pk=variant.pk).get()
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    visitor, shopper = Cart.objects.create(), Cart.objects.create(user=user)
    services.add_to_cart(cart=visitor, variant_id=variant.pk, quantity=2)
    services.add_to_cart(cart=visitor, variant_id=other.pk, quantity=1)
    services.add_to_cart(cart=shopper, variant_id=variant.pk, quantity=2)
    services.merge_carts(source=visitor, target=shopper)
    assert lines(shopper) == sorted([(variant.sku, 3), (other.sku, 1)])
    assert not Cart.objects.filter(pk=visitor.pk).exists()


def test_price_changes_are_reported_until_accepted(variant):
    cart = Cart.objects.create()
    services.add_to_cart(cart=cart, variant_id=variant.pk)
    ProductVariant.objects.filter(pk=variant.pk).update(price=Decimal("17999"))
    summary = services.summarise_cart(cart)
    assert [line.price_when_added for line in summary.price_changes] == [Decimal("18999.00")]
    assert summary.subtotal == Decimal("17999")
    services.accept_cart_prices(cart=cart)
    assert services.summarise_cart(cart).price_changes == []


# Pages ----------------------------------------------------------------------


def add(client, variant, quantity=1, **headers):
    return client.post(
        reverse("shop:cart-add"), {"variant": variant.pk, "quantity": quantity}, headers=headers
    )


def visitor_cart(client) -> Cart:
    return Cart.objects.get(pk=client.session[CART_SESSION_KEY])


def test_add_without_javascript_redirects_back_with_a_message(client, variant):
    response = client.post(
        reverse("shop:cart-add"),
        {"variant": variant.pk, "quantity": 2, "next": "/p/whatever/?variant=1"},
    )
    assert response.status_code == 302 and response["Location"] == "/p/whatever/?variant=1"
    assert lines(visitor_cart(client)) == [(variant.sku, 2)]
    page = client.get(response["Location"].split("?")[0])
    assert page.status_code in (200, 404)


def test_add_ignores_an_offsite_next(client, variant):
    response = client.post(
        reverse("shop:cart-add"), {"variant": variant.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("shop:cart")


def test_add_with_htmx_answers_a_fragment_and_the_cart_event(client, variant):
    response = add(client, variant, **{"HX-Request": "true", "HX-Target": "cart-feedback"})
    assert response.status_code == 200
    assert "cart:updated" in response["HX-Trigger"]
    assert "Added" in response.content.decode() and b"<footer" not in response.content


def test_refused_add_shows_a_clear_message_and_changes_nothing(client, variant):
    add(client, variant, 3)
    response = add(client, variant, 1, **{"HX-Request": "true", "HX-Target": "cart-feedback"})
    assert "Only 3 of" in response.content.decode()
    assert "HX-Trigger" not in response
    response = add(client, variant, 1)
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Only 3 of" in m for m in messages)
    assert lines(visitor_cart(client)) == [(variant.sku, 3)]


@pytest.mark.parametrize("variant_id", ["999999", "abc", ""])
def test_tampered_variant_ids_answer_404(client, variant_id):
    response = client.post(reverse("shop:cart-add"), {"variant": variant_id})
    assert response.status_code == 404
    assert not CartLine.objects.exists()


def test_cart_page_and_quantity_changes(client, variant):
    add(client, variant, 1)
    line = CartLine.objects.get()
    page = client.get(reverse("shop:cart"))
    assert "KES 18,999" in page.content.decode()
    response = client.post(
        reverse("shop:cart-line-update", args=[line.pk]),
        {"quantity": 2},
        headers={"HX-Request": "true", "HX-Target": "cart"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="cart"') and "KES 37,998" in html
    assert "cart:updated" in response["HX-Trigger"]
    response = client.post(reverse("shop:cart-line-update", args=[line.pk]), {"quantity": 9})
    assert response.status_code == 302
    assert lines(visitor_cart(client)) == [(variant.sku, 2)]
    client.post(reverse("shop:cart-line-remove", args=[line.pk]))
    assert lines(visitor_cart(client)) == []


def test_a_visitor_cannot_touch_another_visitors_lines(variant):
    owner, intruder = Client(), Client()
    add(owner, variant, 1)
    add(intruder, variant, 1)
    line = visitor_cart(owner).lines.get()
    for url, data in [
        (reverse("shop:cart-line-update", args=[line.pk]), {"quantity": 3}),
        (reverse("shop:cart-line-remove", args=[line.pk]), {}),
    ]:
        assert intruder.post(url, data).status_code == 404
    assert lines(visitor_cart(owner)) == [(variant.sku, 1)]


def test_cart_actions_need_post(client, variant):
    assert client.get(reverse("shop:cart-add")).status_code == 405
    assert client.get(reverse("shop:cart-clear")).status_code == 405


def test_clear_cart(client, variant):
    add(client, variant, 2)
    client.post(reverse("shop:cart-clear"))
    assert lines(visitor_cart(client)) == []


def test_price_change_is_shown_old_to_new(client, variant):
    add(client, variant)
    ProductVariant.objects.filter(pk=variant.pk).update(price=Decimal("19999"))
    html = client.get(reverse("shop:cart")).content.decode()
    assert "<s>KES 18,999</s> → <strong>KES 19,999</strong>" in html


def test_header_badge_counts_items(client, variant):
    add(client, variant, 2)
    badge = client.get(reverse("shop:cart-badge"), headers={"HX-Request": "true"})
    assert '<span data-testid="cart-count"' in badge.content.decode()
    assert ">2<" in badge.content.decode()
    assert b"<footer" not in badge.content


def test_login_merges_the_visitor_cart(client, phone, variant):
    user = get_user_model().objects.create_user("bob", "bob@example.com", "pw-123456!")
    other = phone.variants.exclude(pk=variant.pk).get()
    services.add_to_cart(cart=Cart.objects.create(user=user), variant_id=variant.pk, quantity=2)
    add(client, variant, 2)
    add(client, other, 1)
    response = client.post(
        reverse("account_login"), {"login": "bob@example.com", "password": "pw-123456!"}
    )
    assert response.status_code == 302
    assert lines(user.cart) == sorted([(variant.sku, 3), (other.sku, 1)])
    assert Cart.objects.count() == 1


def test_cart_page_queries_do_not_grow_with_the_cart(client):
    products = [make_product(prices=("100",), stock=5) for _ in range(8)]

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("shop:cart")).status_code == 200
        return len(ctx.captured_queries)

    add(client, products[0].variants.get())
    client.get(reverse("shop:cart"))  # warm thumbnails
    small = count()
    for product in products[1:]:
        add(client, product.variants.get())
    client.get(reverse("shop:cart"))
    assert count() == small
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("shop:cart-badge"))
    assert len(ctx.captured_queries) <= 2


def test_a_refused_first_add_leaves_no_empty_cart(client, variant):
    response = add(client, variant, 4)  # only 3 in stock
    assert response.status_code == 302
    assert not Cart.objects.exists()
    assert client.post(reverse("shop:cart-add"), {"variant": "999999"}).status_code == 404
    assert not Cart.objects.exists()
    assert CART_SESSION_KEY not in client.session


def test_a_session_whose_cart_is_gone_gets_a_new_one(client, variant):
    add(client, variant, 1)
    gone = visitor_cart(client)
    line = gone.lines.get()
    gone.delete()
    update = reverse("shop:cart-line-update", args=[line.pk])
    assert client.post(update, {"quantity": 2}).status_code == 404
    assert client.post(reverse("shop:cart-clear")).status_code == 404
    add(client, variant, 2)
    assert visitor_cart(client).pk != gone.pk
    assert lines(visitor_cart(client)) == [(variant.sku, 2)]


def test_a_visitor_session_never_reaches_a_shoppers_cart(client, variant):
    """A session holding the id of a cart that now has an owner gets nothing of it."""
    user = get_user_model().objects.create_user("eve", "eve@example.com", "pw-123456!")
    add(client, variant, 1)
    cart = visitor_cart(client)
    Cart.objects.filter(pk=cart.pk).update(user=user)
    line = cart.lines.get()
    url = reverse("shop:cart-line-update", args=[line.pk])
    assert client.post(url, {"quantity": 2}).status_code == 404
    assert client.post(reverse("shop:cart-line-remove", args=[line.pk])).status_code == 404
    assert client.post(reverse("shop:cart-accept-prices")).status_code == 404
    add(client, variant, 1)  # a new visitor cart, the shopper's is untouched
    assert lines(Cart.objects.get(user=user)) == [(variant.sku, 1)]
    assert visitor_cart(client).pk != cart.pk


def test_setting_the_same_quantity_writes_nothing(client, variant):
    add(client, variant, 2)
    line = CartLine.objects.get()
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(reverse("shop:cart-line-update", args=[line.pk]), {"quantity": 2})
    assert response.status_code == 302
    assert not [q for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    assert "Cart updated." in [str(m) for m in response.wsgi_request._messages]


def post_queries(client, url, data) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, data)
    assert response.status_code == 302
    if connection.vendor == "postgresql" and "/lines/" in url:
        locks = [q["sql"] for q in ctx.captured_queries if "FOR UPDATE" in q["sql"]]
        assert len(locks) == 1 and 'FOR UPDATE OF "shop_cart"' in locks[0]
    return [q["sql"].split()[0] for q in ctx.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_cart_posts_run_few_queries():
    """A first add is one transaction for the cart and its line, plus the new session.

    Counted outside a test transaction, as in production (BEGIN and COMMIT
    are counted on SQLite only).
    """
    variant = make_product(prices=("100",), stock=5).variants.get()
    client = Client()
    shapes = post_queries(client, reverse("shop:cart-add"), {"variant": variant.pk})
    writes = [s for s in shapes if s not in ("BEGIN", "COMMIT")]
    # the variant; the cart and line; the session (a new key is checked, then inserted)
    assert writes == ["SELECT", "INSERT", "INSERT", "SELECT", "INSERT"], shapes
    line = CartLine.objects.get()
    for quantity in (2, 1):
        shapes = post_queries(
            client, reverse("shop:cart-line-update", args=[line.pk]), {"quantity": quantity}
        )
        # the session; the line with its cart locked; the new quantity
        assert [s for s in shapes if s not in ("BEGIN", "COMMIT")] == [
            "SELECT",
            "SELECT",
            "UPDATE",
        ], shapes
    assert CartLine.objects.get().quantity == 1


# Concurrency ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_carts_may_both_take_the_last_unit():
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL; SQLite serialises them.")
    variant = make_product(prices=("100",), stock=1).variants.get()
    carts = [Cart.objects.create(), Cart.objects.create()]
    results = run_in_threads(
        *[lambda c=c: services.add_to_cart(cart=c, variant_id=variant.pk) for c in carts]
    )
    assert all(isinstance(r, CartLine) for r in results), results
    assert [lines(c) for c in carts] == [[(variant.sku, 1)], [(variant.sku, 1)]]


@pytest.mark.django_db(transaction=True)
def test_one_cart_cannot_exceed_stock_under_concurrent_adds():
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL; SQLite serialises them.")
    variant = make_product(prices=("100",), stock=1).variants.get()
    cart = Cart.objects.create()
    results = run_in_threads(
        *[lambda: services.add_to_cart(cart=cart, variant_id=variant.pk) for _ in range(4)]
    )
    assert sum(isinstance(r, CartLine) for r in results) == 1, results
    assert all(isinstance(r, (CartLine, NotEnoughStock)) for r in results), results
    assert lines(cart) == [(variant.sku, 1)]


@pytest.mark.django_db(transaction=True)
def test_a_cart_known_only_by_its_id_is_still_locked():
    """Views pass a visitor's cart as a bare id; the lock serialises the changes."""
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL; SQLite serialises them.")
    variant = make_product(prices=("100",), stock=2).variants.get()
    cart = Cart.objects.create()
    results = run_in_threads(
        *[
            lambda: services.add_to_cart(cart=Cart(pk=cart.pk), variant_id=variant.pk)
            for _ in range(4)
        ]
    )
    assert sum(isinstance(r, CartLine) for r in results) == 2, results
    assert lines(cart) == [(variant.sku, 2)]


def test_quantity_error_message_names_the_limit(variant):
    with pytest.raises(InvalidQuantity, match="at most 10"):
        services.add_to_cart(cart=Cart.objects.create(), variant_id=variant.pk, quantity=11)
