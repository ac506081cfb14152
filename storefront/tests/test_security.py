"""Headers and limits every page gets: CSP, private caching, request size, passwords."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from payments.tests.factories import order_to_pay
from shop.models import CartLine
from shop.order_access import order_link
from shop.tests.factories import make_product

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


@pytest.fixture
def product():
    return make_product(name="Galaxy A15", slug="galaxy-a15", prices=("18999",), stock=5)


def test_every_shopper_page_has_a_policy_with_no_inline_script(client, product):
    client.force_login(UserFactory())
    client.post(reverse("shop:cart-add"), {"variant": product.variants.get().pk, "quantity": 1})
    for url in [
        "/",
        "/products/",
        "/search/?q=galaxy",
        "/p/galaxy-a15/",
        "/cart/",
        "/checkout/",
        "/wishlist/",
        "/account/profile/",
        "/account/addresses/",
        "/orders/",
        "/no-such-page/",
    ]:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        policy = response["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert script_src == "'self'", url
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_HANDLER.search(html), url
    client.logout()
    assert "script-src 'self';" in Client().get("/accounts/login/")["Content-Security-Policy"]


def test_staff_pages_allow_only_the_export_pages_handler_by_hash(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    policy = client.get("/staff/")["Content-Security-Policy"]
    assert "'unsafe-hashes' 'sha256-" in policy and "'unsafe-inline'" not in policy.split(";")[1]


def test_the_media_host_may_serve_pictures(settings):
    import subprocess
    import sys

    env = {
        "DEBUG": "1",
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "duka-media",
        "AWS_S3_CUSTOM_DOMAIN": "media.duka.example",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from storefront import settings; print(settings.CONTENT_SECURITY_POLICY)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "img-src 'self' data: https://media.duka.example;" in out


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("/cart/", True),
        ("/checkout/", True),
        ("/wishlist/", True),
        ("/orders/", True),
        ("/account/profile/", True),
        ("/products/", False),
        ("/p/galaxy-a15/", False),
    ],
)
def test_personal_pages_are_private_and_never_stored(client, product, url, private):
    client.force_login(UserFactory())
    response = client.get(url, follow=True)
    cache_control = response.get("Cache-Control", "")
    assert (cache_control == "private, no-store") is private, (url, cache_control)


def test_an_order_page_is_private(client, product):
    order = order_to_pay()
    response = client.get(order_link(order))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_a_request_above_the_limit_is_refused_before_anything_reads_it(client, product, settings):
    settings.MAX_REQUEST_BYTES = 1024
    response = client.post(
        reverse("shop:cart-add"),
        {"variant": product.variants.get().pk, "quantity": 1, "pad": "x" * 2048},
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert not CartLine.objects.exists()
    ok = client.post(reverse("shop:cart-add"), {"variant": product.variants.get().pk})
    assert ok.status_code == 302 and CartLine.objects.count() == 1


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "12345678910"])
def test_sign_up_refuses_common_passwords(client, password):
    response = client.post(
        reverse("account_signup"),
        {"email": "amina@example.com", "password1": password, "password2": password},
    )
    assert response.status_code == 200
    assert "too common" in response.content.decode() or "entirely numeric" in (
        response.content.decode()
    )
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(email="amina@example.com").exists()
