"""English and Kiswahili: the switch, what remembers the choice, and who follows it."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.tests.factories import PASSWORD, UserFactory
from payments.tests.factories import order_to_pay
from shop import services
from shop.models import Order
from shop.tasks import send_order_email, send_order_sms
from shop.tests.factories import CategoryFactory, make_product
from storefront import sms

pytestmark = pytest.mark.django_db


def in_swahili(text: str) -> str:
    """*text* in the shop's Kiswahili; fails if the catalogue leaves it in English."""
    with translation.override("sw"):
        translated = gettext(text)
    assert translated != text, f"{text!r} has no Kiswahili"
    return translated


def switch(client: Client, language: str, next_url: str = "/", **extra):
    return client.post("/language/", {"language": language, "back": next_url}, **extra)


def test_the_switch_works_without_javascript_and_comes_back_to_the_page():
    make_product(name="Galaxy A15")
    client = Client()
    english = client.get("/products/").content.decode()
    assert '<html lang="en-gb">' in english and 'data-testid="language-switch"' in english
    assert 'name="language" value="sw"' in english

    answer = switch(client, "sw", "/products/?q=galaxy")

    assert answer.status_code == 302 and answer["Location"] == "/products/?q=galaxy"
    assert answer.cookies["django_language"].value == "sw"
    page = client.get("/products/?q=galaxy")
    html = page.content.decode()
    assert '<html lang="sw">' in html and page["Content-Language"] == "sw"
    assert in_swahili("Cart") in html and "Galaxy A15" in html
    assert 'name="language" value="en-gb"' in html  # and back again

    switch(client, "en-gb", "/products/")
    assert '<html lang="en-gb">' in client.get("/products/").content.decode()


def test_an_unknown_language_or_a_foreign_next_changes_nothing():
    client = Client()
    answer = switch(client, "fr", "/products/")
    assert answer.status_code == 302 and "django_language" not in answer.cookies
    assert '<html lang="en-gb">' in client.get("/").content.decode()

    answer = switch(client, "sw", "https://evil.example/steal")
    assert answer["Location"] == "/"
    assert client.get("/language/").status_code == 405  # a POST form only


def test_the_browser_language_is_used_until_the_shopper_chooses():
    client = Client(headers={"accept-language": "sw-KE,sw;q=0.9,en;q=0.5"})
    page = client.get("/")
    assert '<html lang="sw">' in page.content.decode()
    assert "Accept-Language" in page["Vary"] and "Cookie" in page["Vary"]
    switch(client, "en-gb")
    assert '<html lang="en-gb">' in client.get("/").content.decode()


def test_a_signed_in_shoppers_choice_is_kept_on_the_account():
    user = UserFactory(email="wanjiku@duka.test")
    client = Client()
    client.force_login(user)
    switch(client, "sw")
    user.refresh_from_db()
    assert user.language == "sw"

    elsewhere = Client()  # another phone: no cookie, an English browser
    assert '<html lang="en-gb">' in elsewhere.get("/").content.decode()
    signed_in = elsewhere.post(
        reverse("account_login"), {"login": "wanjiku@duka.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies["django_language"].value == "sw"
    assert '<html lang="sw">' in elsewhere.get("/").content.decode()
    elsewhere.post(reverse("account_logout"))
    assert '<html lang="sw">' in elsewhere.get("/").content.decode()  # the browser keeps it


def test_signing_in_to_an_account_without_a_saved_language_changes_nothing():
    UserFactory(email="otieno@duka.test")
    client = Client()
    switch(client, "sw")
    signed_in = client.post(
        reverse("account_login"), {"login": "otieno@duka.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 302 and "django_language" not in signed_in.cookies
    assert '<html lang="sw">' in client.get("/").content.decode()


def test_cached_catalogue_pages_are_kept_per_language():
    make_product(name="Spark 20")
    english, swahili = Client(), Client()
    switch(swahili, "sw")
    for _ in range(2):  # the second round is served from the page cache
        en = english.get("/products/").content.decode()
        sw = swahili.get("/products/").content.decode()
        assert '<html lang="en-gb">' in en and '<html lang="sw">' in sw
        assert in_swahili("Sort by") in sw and in_swahili("Sort by") not in en


def test_the_category_links_follow_the_language_and_the_categories():
    """The header's category links are rendered once per tree and language."""
    phones = CategoryFactory(name="Phones", slug="phones")
    CategoryFactory(name="Tablets", slug="tablets", parent=phones)
    english, swahili = Client(), Client()
    switch(swahili, "sw")
    for _ in range(2):
        assert "All Phones" in english.get("/cart/").content.decode()
        sw = swahili.get("/cart/").content.decode()
        assert "Phones zote" in sw and "All Phones" not in sw
    CategoryFactory(name="Watches", slug="watches")
    assert 'href="/c/watches/"' in english.get("/cart/").content.decode()
    assert 'href="/c/watches/"' in swahili.get("/cart/").content.decode()


def test_an_order_remembers_its_language_for_emails_and_texts(settings):
    settings.SMS_BACKEND = "storefront.sms.LocmemBackend"
    with translation.override("sw"):
        order = order_to_pay(price="1500")
    assert order.language == Order.objects.get(pk=order.pk).language
    Order.objects.filter(pk=order.pk).update(language="sw")
    services.mark_order_paid(order_id=order.pk, amount=order.amount_payable, reference="QK1")

    mail.outbox.clear()
    send_order_email.call(order.pk, "paid")
    (message,) = mail.outbox
    assert "Your order" not in message.subject and order.number in message.subject
    assert 'lang="sw"' in message.alternatives[0][0]

    sms.outbox.clear()
    send_order_sms.call(order.pk, "paid")
    [(_, text)] = sms.outbox
    assert order.number in text and "we received" not in text
    assert text.startswith("Duka Tech: ")


def test_an_order_placed_in_kiswahili_is_kiswahili():
    with translation.override("sw"):
        order = order_to_pay(price="1500")
    assert Order.objects.get(pk=order.pk).language == "sw"
    with translation.override("en-gb"):
        order = order_to_pay(price="1500", phone="254712000111")
    assert Order.objects.get(pk=order.pk).language == "en-gb"
