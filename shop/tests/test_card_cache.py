"""Product cards kept one by one: reused by every listing, stale with their product."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from shop import fragments, services
from shop.models import WishlistItem

from .factories import (
    AttributeFactory,
    AttributeValueFactory,
    BrandFactory,
    CategoryFactory,
    make_product,
)

pytestmark = pytest.mark.django_db

CARD = "components/_product_card.html"


@pytest.fixture
def catalogue():
    phones = CategoryFactory(name="Phones", slug="phones")
    samsung = BrandFactory(name="Samsung", slug="samsung")
    colour = AttributeFactory(name="Colour", slug="colour")
    black = AttributeValueFactory(attribute=colour, value="Black", slug="black")
    blue = AttributeValueFactory(attribute=colour, value="Blue", slug="blue")
    galaxy = make_product(
        name="Galaxy A15",
        brand=samsung,
        category=phones,
        prices=("18999", "21999"),
        values=[[black], [blue]],
    )
    others = [
        make_product(name=f"Phone {n}", brand=samsung, category=phones, prices=(f"{n}000",))
        for n in range(2, 6)
    ]
    return galaxy, others


def cards_rendered(response) -> int:
    assert response.status_code == 200
    return [t.name for t in response.templates].count(CARD)


def card(page: str, name: str) -> str:
    for article in re.findall(r"<article.*?</article>", page, re.S):
        if f">{name}</a></h3>" in article:
            return article
    raise AssertionError(f"no card for {name}")


def test_a_listing_rendered_afresh_reuses_the_cards_others_rendered(catalogue):
    assert cards_rendered(Client().get("/products/")) == 5
    # Another sort, a category and a search: new listings, the same cards.
    assert cards_rendered(Client().get("/products/?sort=price-desc")) == 0
    assert cards_rendered(Client().get("/c/phones/")) == 0
    assert cards_rendered(Client().get("/search/?q=phone")) == 0


def test_a_changed_product_gets_its_card_rendered_again_and_only_its(catalogue):
    galaxy, _ = catalogue
    Client().get("/products/")
    variant = galaxy.variants.order_by("price").first()
    variant.price = Decimal("15999")
    variant.save()
    services.refresh_product_summaries(product_ids=[galaxy.pk])
    page = Client().get("/products/?sort=price-desc")
    assert cards_rendered(page) == 1
    assert "KES 15,999" in card(page.content.decode(), "Galaxy A15")
    fragments.catalogue_changed()
    assert cards_rendered(Client().get("/products/?sort=newest")) == 5


def test_a_filtered_listing_shows_the_matching_variants_offer_not_a_kept_card(catalogue):
    galaxy, _ = catalogue
    blue = galaxy.variants.get(price=Decimal("21999"))
    plain = card(Client().get("/products/").content.decode(), "Galaxy A15")
    assert "from" in plain and "KES 18,999" in plain
    filtered = card(Client().get("/products/?v=colour:blue").content.decode(), "Galaxy A15")
    assert "KES 21,999" in filtered and "KES 18,999" not in filtered
    assert f"/p/{galaxy.slug}/?variant={blue.pk}" in filtered
    again = card(Client().get("/c/phones/").content.decode(), "Galaxy A15")
    assert price_and_link(again) == price_and_link(plain)


def price_and_link(card_html: str) -> tuple[str, str]:
    price = re.search(r'data-testid="card-price">(.*?)</p>', card_html).group(1)
    return price, re.search(r'<a href="([^"]+)"', card_html).group(1)


def test_a_kept_cards_wishlist_form_comes_back_to_the_page_it_is_on(catalogue):
    Client().get("/products/")
    for url in ["/products/?sort=price-desc", "/c/phones/?sort=newest", "/search/?q=galaxy"]:
        page = Client().get(url).content.decode()
        expected = url.replace("&", "&amp;")
        assert f'name="next" value="{expected}"' in card(page, "Galaxy A15")


def test_a_saved_products_card_is_the_shoppers_own(catalogue):
    galaxy, _ = catalogue
    Client().get("/products/")  # cards kept with the heart not pressed
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    WishlistItem.objects.create(user=user, product=galaxy)
    saver = Client()
    saver.force_login(user)
    page = saver.get("/products/?sort=price-desc").content.decode()
    assert 'aria-pressed="true"' in card(page, "Galaxy A15")
    assert 'aria-pressed="false"' in card(page, "Phone 2")
    other = Client().get("/products/?sort=newest").content.decode()
    assert 'aria-pressed="false"' in card(other, "Galaxy A15")


def test_cards_are_kept_per_language(catalogue):
    galaxy, _ = catalogue
    galaxy.variants.update(stock_on_hand=0)
    services.products_changed([galaxy.pk], listings=True)
    english = Client().get("/products/").content.decode()
    swahili_visitor = Client()
    swahili_visitor.cookies.load({"django_language": "sw"})
    swahili = swahili_visitor.get("/products/?sort=newest").content.decode()
    assert "Out of stock" in card(english, "Galaxy A15")
    assert "Out of stock" not in card(swahili, "Galaxy A15")
