"""The account pages, the login library's words and its emails in Kiswahili."""

import re

import pytest
from allauth.account import forms as allauth_forms
from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import password_validation
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from accounts import allauth_strings
from accounts.adapter import AccountAdapter

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LISTED = {
    *allauth_strings.FORM_LABELS,
    *allauth_strings.FORM_ERRORS,
    *allauth_strings.PASSWORD_RULES,
    *allauth_strings.EMAIL_PAGE,
}


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Keep allauth's rate-limit counters from leaking between tests."""
    cache.clear()
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


def in_swahili(text: str) -> str:
    """*text* in the shop's Kiswahili; fails if the catalogue leaves it in English."""
    with translation.override("sw"):
        translated = gettext(text)
    assert translated != text, f"{text!r} has no Kiswahili"
    return translated


def swahili_client(**headers) -> Client:
    return Client(headers={"accept-language": "sw", **headers})


def shown_words(form) -> list[str]:
    """The labels and placeholders *form* shows, as the English it looks up."""
    words = []
    for field in form.fields.values():
        words.append(str(field.label))
        if field.widget.attrs.get("placeholder"):
            words.append(str(field.widget.attrs["placeholder"]))
    return words


class TestTheLibrarysWordsAreListed:
    """An upgrade of allauth that changes a word shoppers see fails here, not in production."""

    @pytest.mark.parametrize(
        "make_form",
        [
            lambda user: allauth_forms.LoginForm(),
            lambda user: allauth_forms.SignupForm(),
            lambda user: allauth_forms.ResetPasswordForm(),
            lambda user: allauth_forms.ResetPasswordKeyForm(user=user),
            lambda user: allauth_forms.ChangePasswordForm(user=user),
            lambda user: allauth_forms.SetPasswordForm(user=user),
            lambda user: allauth_forms.AddEmailForm(user=user),
        ],
        ids=["login", "signup", "reset", "reset-key", "change", "set", "add-email"],
    )
    def test_every_label_and_placeholder(self, make_form):
        words = shown_words(make_form(UserFactory()))
        assert words
        assert [word for word in words if word not in LISTED] == []

    def test_the_forgotten_password_link(self):
        help_text = str(allauth_forms.LoginForm().fields["password"].help_text)
        assert re.search(r">(.+)</a>", help_text).group(1) in LISTED

    def test_every_password_rule(self):
        counted = {
            ngettext(
                "Your password must contain at least %(min_length)d character.",
                "Your password must contain at least %(min_length)d characters.",
                validator.min_length,
            )
            % {"min_length": validator.min_length}
            for validator in password_validation.get_default_password_validators()
            if hasattr(validator, "min_length")
        }
        rules = password_validation.password_validators_help_texts()
        assert [rule for rule in rules if rule not in LISTED | counted] == []

    def test_the_adapter_keeps_allauths_english_word_for_word(self):
        ours = AccountAdapter.error_messages
        theirs = DefaultAccountAdapter.error_messages
        assert ours.keys() == theirs.keys()
        assert {code: str(text) for code, text in ours.items()} == {
            code: str(text) for code, text in theirs.items()
        }


class TestPagesInKiswahili:
    def test_sign_in_page_labels_placeholders_and_help(self):
        html = swahili_client().get(reverse("account_login")).content.decode()
        assert '<html lang="sw">' in html
        for english in ("Password", "Remember Me", "Forgot your password?", "Email address"):
            assert in_swahili(english) in html
            assert f">{english}<" not in html and f'"{english}"' not in html

    def test_wrong_password_and_lock_out_messages(self):
        UserFactory(email="wanjiku@example.com")
        client = swahili_client()
        login = {"login": "wanjiku@example.com", "password": "wrong"}
        html = client.post(reverse("account_login"), login).content.decode()
        assert (
            in_swahili("The email address and/or password you specified are not correct.") in html
        )
        for _ in range(5):
            html = client.post(reverse("account_login"), login).content.decode()
        assert in_swahili("Too many failed login attempts. Try again later.") in html

    def test_sign_up_password_rules(self):
        html = swahili_client().get(reverse("account_signup")).content.decode()
        assert in_swahili("Your password can’t be entirely numeric.") in html
        response = swahili_client().post(
            reverse("account_signup"),
            {"email": "amina@example.com", "password1": "12345678", "password2": "12345678"},
        )
        assert in_swahili("This password is entirely numeric.") in response.content.decode()

    def test_flash_messages_come_from_our_templates(self):
        client = swahili_client()
        client.post(
            reverse("account_signup"),
            {"email": "amina@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )
        response = client.post(reverse("account_logout"), follow=True)
        shown = [str(message) for message in response.context["messages"]]
        assert in_swahili("You have signed out.") in shown

    def test_account_pages(self):
        client = swahili_client()
        client.force_login(UserFactory(first_name="Amina"))
        html = client.get(reverse("accounts:overview")).content.decode()
        assert in_swahili("Sign-in and security") in html
        assert "Sign-in and security" not in html


class TestTheLanguageIsTheAccounts:
    def test_a_new_account_keeps_the_language_it_signed_up_in(self, mailoutbox):
        swahili_client().post(
            reverse("account_signup"),
            {"email": "amina@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )
        from accounts.models import User

        assert User.objects.get(email="amina@example.com").language == "sw"
        (confirmation,) = mailoutbox
        hello = in_swahili("Hello from %(site_name)s!") % {"site_name": "Duka Tech"}
        assert confirmation.body.startswith(hello)

    def test_a_password_reset_email_speaks_the_accounts_language(self, mailoutbox):
        UserFactory(email="amina@example.com", language="sw")
        english_page = Client(headers={"accept-language": "en"})
        english_page.post(reverse("account_reset_password"), {"email": "amina@example.com"})
        (reset,) = mailoutbox
        assert not reset.body.startswith("Hello from")
        assert in_swahili("Password Reset Email") in reset.subject

    def test_the_profile_page_changes_the_language(self, client):
        user = UserFactory(language="")
        client.force_login(user)
        page = client.get(reverse("accounts:profile")).content.decode()
        assert re.search(r'<option value="en-gb"\s+selected', page)
        response = client.post(
            reverse("accounts:profile"),
            {"first_name": "Amina", "last_name": "Hassan", "phone": "", "language": "sw"},
        )
        assert response.status_code == 302
        assert response.cookies["django_language"].value == "sw"
        user.refresh_from_db()
        assert user.language == "sw"
        page = client.get(reverse("accounts:profile")).content.decode()
        assert '<html lang="sw">' in page
        assert in_swahili("Your profile has been saved.") in page

    def test_a_profile_saved_without_a_language_keeps_it(self, client):
        user = UserFactory(language="sw")
        client.force_login(user)
        response = client.post(
            reverse("accounts:profile"), {"first_name": "A", "last_name": "B", "phone": ""}
        )
        assert response.status_code == 302 and "django_language" not in response.cookies
        user.refresh_from_db()
        assert user.language == "sw"

    def test_an_unknown_language_is_refused(self, client):
        user = UserFactory(language="sw")
        client.force_login(user)
        response = client.post(
            reverse("accounts:profile"),
            {"first_name": "A", "last_name": "B", "phone": "", "language": "fr"},
        )
        assert response.status_code == 200
        user.refresh_from_db()
        assert user.language == "sw"


def test_an_upload_too_large_is_refused_in_the_browsers_language(settings):
    settings.MAX_REQUEST_BYTES = 1024
    response = swahili_client().post("/", data="x" * 2048, content_type="text/plain")
    assert response.status_code == 413
    expected = in_swahili(
        "That upload is too large: the limit is %(limit)s MB. Please send a smaller file."
    )
    assert response.content.decode() == expected % {"limit": 0}
