"""Login limits count the real client behind the shop's proxies, and per client and account."""

import pytest
from django.contrib.auth import get_user
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.1.2.3"


@pytest.fixture(autouse=True)
def _behind_a_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


def client_at(address: str, *, socket: bool = False) -> Client:
    """A browser at *address*, reaching the shop through the proxy (or a unix socket)."""
    return Client(REMOTE_ADDR="" if socket else PROXY, HTTP_X_FORWARDED_FOR=address)


def sign_in(client: Client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def staff_sign_in(client: Client, username: str, password: str):
    return client.post(
        reverse("staff-login"), {"username": username, "password": password, "next": "/staff/"}
    )


LOCKED = "Too many failed login attempts"


def test_ten_failures_from_one_client_lock_neither_another_client_nor_the_shopper():
    shopper = UserFactory(email="wanjiku@example.com")
    stranger = client_at("41.90.1.1")
    for n in range(10):
        sign_in(stranger, f"guess{n}@example.com", "wrong")
    assert LOCKED in sign_in(stranger, "wanjiku@example.com", PASSWORD).content.decode()

    shopper_browser = client_at("197.248.5.5")
    assert sign_in(shopper_browser, "wanjiku@example.com", PASSWORD).status_code == 302
    assert get_user(shopper_browser).pk == shopper.pk


def test_a_stranger_cannot_lock_a_shopper_out_of_their_account():
    UserFactory(email="wanjiku@example.com")
    stranger = client_at("41.90.1.1")
    for _ in range(5):
        sign_in(stranger, "wanjiku@example.com", "wrong")
    assert LOCKED in sign_in(stranger, "wanjiku@example.com", PASSWORD).content.decode()
    assert sign_in(client_at("197.248.5.5"), "wanjiku@example.com", PASSWORD).status_code == 302


def test_a_spoofed_forwarded_header_does_not_escape_the_count():
    """Only the hop the shop's proxy wrote counts: a header the client sent is ignored."""
    UserFactory(email="wanjiku@example.com")
    for n in range(10):
        sign_in(client_at(f"6.6.6.{n}, 41.90.1.1"), f"guess{n}@example.com", "wrong")
    response = sign_in(client_at("1.1.1.1, 41.90.1.1"), "wanjiku@example.com", PASSWORD)
    assert LOCKED in response.content.decode()


def test_login_works_on_a_unix_socket_behind_the_proxy():
    user = UserFactory(email="wanjiku@example.com")
    browser = client_at("197.248.5.5", socket=True)
    assert sign_in(browser, "wanjiku@example.com", PASSWORD).status_code == 302
    assert get_user(browser).pk == user.pk


def test_login_works_on_a_unix_socket_without_a_proxy_header():
    UserFactory(email="wanjiku@example.com")
    browser = Client(REMOTE_ADDR="")
    assert sign_in(browser, "wanjiku@example.com", PASSWORD).status_code == 302


def test_the_counters_live_in_the_rate_limit_cache_not_the_page_cache():
    UserFactory(email="wanjiku@example.com")
    sign_in(client_at("41.90.1.1"), "wanjiku@example.com", "wrong")
    counted = [key for key in caches["ratelimit"]._cache if "allauth" in key]
    assert counted
    assert not [key for key in cache._cache if "allauth" in key]


class TestStaffLogin:
    def test_failures_lock_the_client_out_even_with_the_right_password(self):
        UserFactory(username="admin", email="admin@example.com", is_staff=True)
        attacker = client_at("41.90.1.1")
        for _ in range(5):
            response = staff_sign_in(attacker, "admin", "wrong")
            assert response.status_code == 200
        response = staff_sign_in(attacker, "admin", PASSWORD)
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.content.decode()
        assert not get_user(attacker).is_authenticated

    def test_ten_failures_lock_the_client_out_for_every_account(self):
        UserFactory(username="admin", email="admin@example.com", is_staff=True)
        attacker = client_at("41.90.1.1")
        for n in range(10):
            staff_sign_in(attacker, f"guess{n}", "wrong")
        assert staff_sign_in(attacker, "admin", PASSWORD).status_code == 429

    def test_staff_elsewhere_still_sign_in(self):
        staff = UserFactory(username="admin", email="admin@example.com", is_staff=True)
        attacker = client_at("41.90.1.1")
        for n in range(12):
            staff_sign_in(attacker, "admin" if n % 2 else f"guess{n}", "wrong")
        office = client_at("197.248.5.5")
        response = staff_sign_in(office, "admin", PASSWORD)
        assert response.status_code == 302
        assert get_user(office).pk == staff.pk

    def test_a_successful_sign_in_counts_nothing(self):
        UserFactory(username="admin", email="admin@example.com", is_staff=True)
        office = client_at("197.248.5.5")
        for _ in range(8):
            assert staff_sign_in(office, "admin", PASSWORD).status_code == 302
            office.logout()
