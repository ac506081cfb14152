"""With Redis gone, the storefront and checkout keep working; limits still count.

A Redis server of the test's own serves both caches (pages and rate-limit
counters), and is stopped mid-test and started again, as an outage would.
"""

import logging
import time

import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse

from payments.models import PaymentAttempt
from shop import fragments
from shop.models import DeliveryZone, Order
from storefront import cache as resilient
from tests.support.redis import redis_server

from .factories import BrandFactory, CategoryFactory, make_product
from .test_checkout import CHECKOUT, GUEST

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis(settings):
    with redis_server() as server:
        options = {"RETRY_SECONDS": 0.2}
        settings.CACHES = {
            "default": {
                "BACKEND": "storefront.cache.ResilientRedisCache",
                "LOCATION": server.url,
                "KEY_PREFIX": "outage-test",
                "OPTIONS": {**options, "FALLBACK": "none"},
            },
            "ratelimit": {
                "BACKEND": "storefront.cache.ResilientRedisCache",
                "LOCATION": server.url,
                "KEY_PREFIX": "outage-test-rl",
                "OPTIONS": {**options, "FALLBACK": "local"},
            },
        }
        yield server


@pytest.fixture
def product():
    DeliveryZone.objects.create(name="Nairobi", counties=["Nairobi"], fee=200)
    return make_product(
        name="Galaxy A15",
        slug="galaxy-a15",
        brand=BrandFactory(name="Samsung", slug="samsung"),
        category=CategoryFactory(name="Phones", slug="phones"),
        prices=("18999",),
        stock=5,
    )


PAGES = [
    "/",
    "/products/",
    "/products/?brand=samsung&sort=price-asc",
    "/c/phones/",
    "/search/?q=galaxy",
    "/p/galaxy-a15/",
    "/cart/",
]


def browse(client: Client) -> None:
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        if url != "/cart/":
            assert "Galaxy A15" in response.content.decode(), url


def test_the_shop_runs_on_through_a_redis_outage(redis, product, sim, caplog):
    client = Client()
    browse(client)
    assert cache.get(fragments.VERSION_KEY) is not None  # Redis is in use

    redis.stop()
    caplog.set_level(logging.WARNING, logger="storefront.cache")
    browse(client)  # every page renders afresh
    assert any("is unreachable" in r.getMessage() for r in caplog.records)
    assert [r for r in caplog.records if "is unreachable" in r.getMessage()][0].levelname == (
        "WARNING"
    )
    assert redis.url in resilient.status() and resilient.status()[redis.url] is not None
    assert not resilient.ping("default")

    variant = product.variants.get()
    response = client.post(reverse("shop:cart-add"), {"variant": variant.pk, "quantity": 1})
    assert response.status_code == 302
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 302
    order = Order.objects.get()
    assert PaymentAttempt.objects.get(order=order).checkout_request_id  # Daraja was asked
    assert client.get(response["Location"]).status_code == 200

    redis.start()
    time.sleep(0.3)  # past RETRY_SECONDS
    browse(client)
    assert resilient.status()[redis.url] is None
    assert resilient.ping("default")
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_a_limit_still_counts_while_redis_is_away(redis, settings):
    settings.TRUSTED_PROXIES = []
    redis.stop()
    client = Client(REMOTE_ADDR="41.90.1.1")
    messages = []
    for _ in range(12):
        response = client.post(
            reverse("shop:order-find"), {"number": "DT1", "phone": "0712345678"}, follow=True
        )
        assert response.status_code == 200
        messages.append("Too many tries" in response.content.decode())
    assert messages[:10] == [False] * 10 and messages[10:] == [True, True]
    other = Client(REMOTE_ADDR="41.90.2.2").post(
        reverse("shop:order-find"), {"number": "DT1", "phone": "0712345678"}, follow=True
    )
    assert "Too many tries" not in other.content.decode()


def test_a_request_does_not_wait_on_a_dead_redis_each_time(redis):
    redis.stop()
    started = time.monotonic()
    for _ in range(50):
        cache.get("anything")
        caches["ratelimit"].get("anything")
    assert time.monotonic() - started < 2  # one failed connect, then no retries for a while


def test_one_redis_client_serves_every_call_and_outlives_an_outage(redis):
    """The cache keeps one client per connection pool (Django makes one per call)."""
    first = cache._cache.get_client()
    cache.set("kept", 1)
    assert cache._cache.get_client() is first and cache.get("kept") == 1
    redis.stop()
    assert cache.get("kept") is None  # a miss, not an error
    redis.start()
    time.sleep(0.3)  # past RETRY_SECONDS
    cache.set("kept", 2)
    assert cache.get("kept") == 2 and cache._cache.get_client() is first
