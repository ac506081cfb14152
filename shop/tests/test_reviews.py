"""Reviews: verified buyers only, once each, shown after approval, ratings kept."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse

from accounts.tests.factories import UserFactory
from payments.tests.factories import ADDRESS, PAYER, order_to_pay
from shop import fragments, services
from shop.exceptions import ReviewError
from shop.models import Cart, CartLine, Order, Product, ProductVariant, Review
from shop.tasks import send_order_email

pytestmark = pytest.mark.django_db

GOOD = {"rating": "5", "title": "Great phone", "body": "Battery lasts two days, camera is sharp."}


def delivered_to(user, **kwargs) -> Product:
    """Deliver a one-line order to *user*; return its product."""
    order = order_to_pay(**kwargs)
    Order.objects.filter(pk=order.pk).update(user=user)
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK")
    services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G-1")
    services.mark_delivered(order_id=order.pk)
    return Product.objects.get(variants__order_lines__order=order)


@pytest.fixture
def shopper(client):
    user = UserFactory(first_name="Amina")
    client.force_login(user)
    return user


def submit(client, product, **data):
    url = reverse("shop:review-submit", kwargs={"slug": product.slug})
    return client.post(url, {**GOOD, **data})


def test_a_buyer_reviews_after_delivery_and_it_shows_once_approved(client, shopper):
    product = delivered_to(shopper)
    page = client.get(reverse("shop:product-reviews", kwargs={"slug": product.slug}))
    assert 'id="write-review"' in page.content.decode()
    response = submit(client, product)
    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.status, review.verified_purchase, review.rating) == ("pending", True, 5)
    html = client.get(response["Location"]).content.decode()
    assert "appears once our team has read it" in html
    assert "Great phone" not in html  # not before approval
    services.moderate_review(
        review_id=review.pk, status="approved", actor=UserFactory(is_staff=True)
    )
    html = client.get(response["Location"]).content.decode()
    assert "Great phone" in html and "Verified purchase" in html and "Amina" in html
    assert 'id="write-review"' not in html  # once only
    product.refresh_from_db()
    assert (product.rating_average, product.rating_count) == (Decimal("5.00"), 1)


def test_the_review_links_of_a_delivered_order_open_the_review_form(client, shopper, settings):
    settings.SITE_URL = "https://duka.example"
    product = delivered_to(shopper)
    order = Order.objects.get(user=shopper)
    html = client.get(order.get_absolute_url()).content.decode()
    [link] = re.findall(r'href="([^"]*)"[^>]*>Review this product<', html)
    mail.outbox.clear()
    send_order_email.call(order.pk, "delivered")
    [emailed] = re.findall(r"https://duka\.example(\S+#write-review)", mail.outbox[0].body)
    for url in (link, emailed):
        path, fragment = url.split("#")
        assert fragment == "write-review"
        page = client.get(path)
        assert page.status_code == 200, url
        assert 'id="write-review"' in page.content.decode(), url
        assert path == reverse("shop:product-reviews", kwargs={"slug": product.slug})


def test_only_a_shopper_who_received_it_may_review(client, shopper):
    product = delivered_to(UserFactory())  # someone else's delivery
    response = submit(client, product)
    assert response.status_code == 400
    assert "Only shoppers who received this product can review it." in response.content.decode()
    assert not Review.objects.exists()


def test_an_order_not_yet_delivered_is_not_enough(client, shopper):
    order = order_to_pay()
    Order.objects.filter(pk=order.pk).update(user=shopper)
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK")
    product = Product.objects.get(variants__order_lines__order=order)
    assert submit(client, product).status_code == 400
    assert not Review.objects.exists()


def test_a_second_review_of_the_same_product_is_refused(client, shopper):
    product = delivered_to(shopper)
    submit(client, product)
    response = submit(client, product, title="Again")
    assert "already reviewed" in response.content.decode()
    assert Review.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rating", "6", "Choose a rating from 1 to 5 stars."),
        ("rating", "0", "Choose a rating from 1 to 5 stars."),
        ("rating", "x", "Choose a rating from 1 to 5 stars."),
        ("title", "  ", "Give your review a title"),
        ("body", "ok", "Tell other shoppers a little more"),
    ],
)
def test_bad_input_is_refused_clearly_and_kept_in_the_form(client, shopper, field, value, message):
    product = delivered_to(shopper)
    response = submit(client, product, **{field: value})
    html = response.content.decode()
    assert response.status_code == 400 and message in html
    assert "Battery lasts two days" in html or field == "body"
    assert not Review.objects.exists()


def test_a_visitor_is_asked_to_sign_in(client):
    product = delivered_to(UserFactory())
    response = submit(client, product)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_hiding_a_review_takes_it_out_of_the_rating(shopper):
    product = delivered_to(shopper)
    other = UserFactory()
    Order.objects.filter(user=None).update(user=other)
    first = services.submit_review(user=shopper, product_id=product.pk, **GOOD)
    services.moderate_review(review_id=first.pk, status="approved")
    second_product = delivered_to(other)
    assert second_product != product
    product.refresh_from_db()
    assert product.rating_count == 1
    services.moderate_review(review_id=first.pk, status="hidden")
    product.refresh_from_db()
    assert (product.rating_average, product.rating_count) == (Decimal("0"), 0)
    with pytest.raises(ReviewError):
        services.moderate_review(review_id=first.pk, status="pending")


def test_the_average_counts_approved_reviews_only(shopper):
    product = delivered_to(shopper)
    buyers = [UserFactory() for _ in range(2)]
    variant = product.variants.get()
    ProductVariant.objects.filter(pk=variant.pk).update(stock_on_hand=F("stock_on_hand") + 5)
    for buyer in buyers:
        cart = Cart.objects.create(user=buyer)
        CartLine.objects.create(cart=cart, variant=variant, quantity=1, price_when_added=1)
        order = services.place_order(
            cart=cart, email=buyer.email, phone=PAYER, address=ADDRESS, user=buyer
        )
        services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="Q")
        services.ship_order(order_id=order.pk, courier="g4s", tracking_number="G")
        services.mark_delivered(order_id=order.pk)
    ratings = {shopper: 5, buyers[0]: 4, buyers[1]: 1}
    reviews = {
        user: services.submit_review(user=user, product_id=product.pk, **{**GOOD, "rating": r})
        for user, r in ratings.items()
    }
    for user in (shopper, buyers[0]):
        services.moderate_review(review_id=reviews[user].pk, status="approved")
    product.refresh_from_db()
    assert (product.rating_average, product.rating_count) == (Decimal("4.50"), 2)


def test_moderation_makes_cached_catalogue_pages_stale(shopper):
    product = delivered_to(shopper)
    review = services.submit_review(user=shopper, product_id=product.pk, **GOOD)
    marks = [fragments.PRODUCT_MARK.format(product.pk), fragments.SCOPE_MARK.format("all")]
    before = cache.get_many(marks)
    services.moderate_review(review_id=review.pk, status="approved")
    after = cache.get_many(marks)
    # The pages showing the product, and the lists it is in (top rated sort).
    assert all(after.get(mark) and after.get(mark) != before.get(mark) for mark in marks)


def approved_review(user, product, **data) -> Review:
    review = services.submit_review(user=user, product_id=product.pk, **{**GOOD, **data})
    return services.moderate_review(review_id=review.pk, status="approved")


def test_the_product_page_and_cards_show_the_rating_and_latest_reviews(client, shopper):
    product = delivered_to(shopper)
    html = client.get(product.get_absolute_url()).content.decode()
    assert "No reviews yet" in html and "aggregateRating" not in html
    approved_review(shopper, product, rating="4", title="Solid buy")
    html = client.get(product.get_absolute_url()).content.decode()
    assert "4.0 (1 review)" in html and "Solid buy" in html and "Verified purchase" in html
    assert '"aggregateRating"' in html and '"reviewCount": 1' in html
    listing = client.get(reverse("shop:product-list")).content.decode()
    assert 'data-testid="card-rating"' in listing and 'aria-label="4.0 out of 5 stars"' in listing


def test_top_rated_sort_puts_the_best_rated_first(client, shopper):
    liked = delivered_to(shopper)
    disliked = delivered_to(shopper)
    unrated = delivered_to(shopper)
    approved_review(shopper, disliked, rating="2")
    approved_review(shopper, liked, rating="5")
    html = client.get(reverse("shop:product-list") + "?sort=top-rated").content.decode()
    assert (
        html.index(liked.name + "<")
        < html.index(disliked.name + "<")
        < html.index(unrated.name + "<")
    )


def test_a_visitor_on_the_reviews_page_is_told_who_can_review(client):
    product = delivered_to(UserFactory())
    html = client.get(
        reverse("shop:product-reviews", kwargs={"slug": product.slug})
    ).content.decode()
    assert "shoppers who bought the product from us and received it" in html
    assert "Sign in" in html and 'data-testid="submit-review"' not in html
