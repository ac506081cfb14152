"""allauth pages in the shop's templates, the whole email flow and the login rate limit."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.core.management import call_command
from django.urls import reverse

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-Passw0rd-for-Nairobi"
CRISPY_INPUT = "border-gray-300"  # crispy-tailwind's class on text inputs


@pytest.fixture(autouse=True)
def _rate_limit_cache(settings):
    """Keep allauth's rate-limit counters in a fresh local-memory cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "accounts-allauth-tests",
        },
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "accounts-allauth-tests-ratelimit",
        },
    }
    cache.clear()
    caches["ratelimit"].clear()
    yield
    cache.clear()
    caches["ratelimit"].clear()


def shop_page(response, *, title: str, has_form: bool = True) -> str:
    """Assert the page is ours: base.html, our overrides, crispy fields; return its HTML."""
    assert response.status_code == 200
    names = {t.name for t in response.templates}
    assert "base.html" in names
    assert names & {"account/_card.html", "allauth/layouts/base.html"}
    html = response.content.decode()
    assert f"<title>{title} · Duka Tech</title>" in html
    assert 'id="main"' in html
    if has_form:
        assert 'method="post"' in html
        assert "csrfmiddlewaretoken" in html
    return html


def sign_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def signed_in_user(client):
    return client.get(reverse("accounts:overview")).wsgi_request.user


def link_in(message) -> str:
    """Return the path of the first link to this site in an email."""
    return re.search(r"https?://testserver(/\S+)", message.body).group(1)


class TestPagesAreStyled:
    def test_login(self, client):
        html = shop_page(client.get(reverse("account_login")), title="Sign in")
        assert CRISPY_INPUT in html
        assert 'name="login"' in html
        assert reverse("account_reset_password") in html
        assert reverse("account_signup") in html

    def test_signup(self, client):
        html = shop_page(client.get(reverse("account_signup")), title="Create an account")
        assert CRISPY_INPUT in html
        assert 'name="password2"' in html

    def test_logout_confirmation(self, client):
        client.force_login(UserFactory())
        html = shop_page(client.get(reverse("account_logout")), title="Sign out")
        assert "Are you sure you want to sign out?" in html

    def test_password_reset(self, client):
        html = shop_page(client.get(reverse("account_reset_password")), title="Reset your password")
        assert CRISPY_INPUT in html

    def test_password_reset_done(self, client):
        shop_page(
            client.get(reverse("account_reset_password_done")),
            title="Check your email",
            has_form=False,
        )

    def test_password_reset_with_a_bad_key(self, client):
        url = reverse("account_reset_password_from_key", kwargs={"uidb36": "1", "key": "bad"})
        html = shop_page(client.get(url), title="Link expired", has_form=False)
        assert "This link has expired" in html

    def test_password_reset_from_key_done(self, client):
        shop_page(
            client.get(reverse("account_reset_password_from_key_done")),
            title="Password changed",
            has_form=False,
        )

    def test_verification_sent(self, client):
        shop_page(
            client.get(reverse("account_email_verification_sent")),
            title="Verify your email address",
            has_form=False,
        )

    def test_email_confirm_with_a_bad_key(self, client):
        url = reverse("account_confirm_email", args=["not-a-key"])
        html = shop_page(client.get(url), title="Confirm your email address", has_form=False)
        assert "expired or is invalid" in html

    def test_account_inactive(self, client):
        shop_page(client.get(reverse("account_inactive")), title="Account inactive", has_form=False)

    def test_password_change(self, client):
        client.force_login(UserFactory())
        html = shop_page(client.get(reverse("account_change_password")), title="Change password")
        assert CRISPY_INPUT in html

    def test_password_set(self, client):
        user = UserFactory()
        user.set_unusable_password()
        user.save()
        client.force_login(user)
        html = shop_page(client.get(reverse("account_set_password")), title="Set a password")
        assert CRISPY_INPUT in html

    def test_email_management_falls_back_to_styled_elements(self, client):
        user = UserFactory()
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
        client.force_login(user)
        html = shop_page(client.get(reverse("account_email")), title="Email Addresses")
        assert "bg-emerald-700" in html
        assert CRISPY_INPUT in html


def test_signup_login_logout_and_password_reset_by_email(client, mailoutbox):
    """A shopper signs up, signs in by email, resets the password from the email link."""
    response = client.post(
        reverse("account_signup"),
        {"email": "Amina@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email__iexact="amina@example.com")
    assert signed_in_user(client) == user
    assert len(mailoutbox) == 1  # optional verification still sends the confirmation
    assert mailoutbox[0].to == [user.email]

    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert not signed_in_user(client).is_authenticated

    assert sign_in(client, "AMINA@example.com", PASSWORD).status_code == 302
    assert signed_in_user(client) == user
    client.post(reverse("account_logout"))

    response = client.post(reverse("account_reset_password"), {"email": "amina@example.com"})
    assert response["Location"] == reverse("account_reset_password_done")
    reset_mail = mailoutbox[-1]
    assert reset_mail.to == [user.email]
    assert reset_mail.body.startswith("Hello from Duka Tech!")

    response = client.get(link_in(reset_mail))
    assert response.status_code == 302  # allauth moves the key out of the URL
    form_url = response["Location"]
    shop_page(client.get(form_url), title="Choose a new password")
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response["Location"] == reverse("account_reset_password_from_key_done")

    response = sign_in(client, "amina@example.com", PASSWORD)
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert not signed_in_user(client).is_authenticated
    assert sign_in(client, "amina@example.com", NEW_PASSWORD).status_code == 302
    assert signed_in_user(client) == user


def test_a_used_reset_link_is_refused(client, mailoutbox):
    UserFactory(email="baraka@example.com")
    client.post(reverse("account_reset_password"), {"email": "baraka@example.com"})
    link = link_in(mailoutbox[-1])
    form_url = client.get(link)["Location"]
    client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    response = client.get(link, follow=True)
    assert "This link has expired" in response.content.decode()


def test_mandatory_verification_sends_and_confirms_the_email(client, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post(
        reverse("account_signup"),
        {"email": "otieno@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response["Location"] == reverse("account_email_verification_sent")
    shop_page(client.get(response["Location"]), title="Verify your email address", has_form=False)

    confirm_url = link_in(mailoutbox[-1])
    html = shop_page(client.get(confirm_url), title="Confirm your email address")
    assert "otieno@example.com" in html
    client.post(confirm_url)
    assert EmailAddress.objects.get(email="otieno@example.com").verified


def test_an_inactive_account_is_sent_to_the_inactive_page(client):
    UserFactory(email="inactive@example.com", is_active=False)
    response = sign_in(client, "inactive@example.com", PASSWORD)
    assert response["Location"] == reverse("account_inactive")
    assert not signed_in_user(client).is_authenticated
    shop_page(client.get(response["Location"]), title="Account inactive", has_form=False)


class TestLoginRateLimit:
    def test_five_failures_for_one_email_lock_it_even_with_the_right_password(self, client):
        UserFactory(email="wanjiku@example.com")
        for _ in range(5):
            response = sign_in(client, "wanjiku@example.com", "wrong-password")
            assert "not correct" in response.content.decode()
        response = sign_in(client, "wanjiku@example.com", PASSWORD)
        assert response.status_code == 200
        assert "Too many failed login attempts" in response.content.decode()
        assert not signed_in_user(client).is_authenticated

    def test_the_lock_is_per_email(self, client):
        UserFactory(email="wanjiku@example.com")
        UserFactory(email="baraka@example.com")
        for _ in range(5):
            sign_in(client, "wanjiku@example.com", "wrong-password")
        assert sign_in(client, "baraka@example.com", PASSWORD).status_code == 302

    def test_ten_failures_from_one_ip_lock_every_email(self, client):
        UserFactory(email="wanjiku@example.com")
        for n in range(10):
            sign_in(client, f"guess{n}@example.com", "wrong-password")
        response = sign_in(client, "wanjiku@example.com", PASSWORD)
        assert "Too many failed login attempts" in response.content.decode()
        assert not signed_in_user(client).is_authenticated


@pytest.mark.django_db(transaction=True)  # the worker closes its connection
def test_a_new_shopper_gets_a_welcome_email_from_the_worker(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("account_signup"),
            {"email": "wanjiku@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    (welcome,) = [m for m in mailoutbox if m.subject == "Welcome to Duka Tech"]
    assert welcome.to == ["wanjiku@example.com"]
    assert "pay every order with M-Pesa" in welcome.body and "/products/" in welcome.body
    html = welcome.alternatives[0][0]
    assert "<html" in html and "Start shopping" in html
