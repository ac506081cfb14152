"""The shop's own pages: terms, privacy, returns, delivery, contact, about."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.urls import reverse

from accounts.tests.factories import UserFactory
from shop.models import DeliveryZone, Page
from shop.models.pages import CORE_PAGES, render_text

pytestmark = pytest.mark.django_db


def page_url(slug: str) -> str:
    return reverse("shop:page", kwargs={"slug": slug})


@pytest.mark.parametrize("slug", CORE_PAGES)
def test_each_page_renders_from_the_data_migration(client, slug):
    page = Page.objects.get(slug=slug)
    response = client.get(page_url(slug))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1" in html and page.title in html
    assert len(page.body) > 300  # a real default text, not a stub


def test_the_privacy_notice_covers_the_data_protection_act():
    body = Page.objects.get(slug="privacy").body
    for words in (
        "Data Protection Act, 2019",
        "M-Pesa receipt number",
        "delivery addresses",
        "5 years",
        "access",
        "corrected",
        "deleted",
        "object",
        "Office of the Data Protection Commissioner",
        "data controller",
    ):
        assert words in body


@pytest.mark.parametrize(
    "path", ["/", "/products/", "/brands/", "/pages/terms/", "/orders/", "/cart/"]
)
def test_the_footer_links_all_six_pages_on_every_page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    footer = html[html.index("<footer") :]
    for slug in CORE_PAGES:
        assert f'href="{page_url(slug)}"' in footer


def test_the_footer_and_contact_page_give_the_support_phone_and_whatsapp(client, settings):
    settings.SUPPORT_PHONE = "0711 222 333"
    settings.SUPPORT_WHATSAPP = "0711 222 333"
    settings.SUPPORT_EMAIL = "help@duka.example"
    for path in ("/", page_url("contact")):
        html = client.get(path).content.decode()
        assert "0711 222 333" in html
        assert 'href="tel:0711222333"' in html
        assert 'href="https://wa.me/254711222333"' in html
    assert 'href="mailto:help@duka.example"' in client.get(page_url("contact")).content.decode()


def test_without_a_whatsapp_number_no_whatsapp_link_is_shown(client, settings):
    settings.SUPPORT_WHATSAPP = ""
    assert "wa.me" not in client.get(page_url("contact")).content.decode()


def test_a_staff_edit_shows_at_once(client):
    client.get(page_url("returns"))  # rendered once before the edit
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = Page.objects.get(slug="returns")
    response = client.post(
        reverse("admin:shop_page_change", args=[page.pk]),
        {"title": "Returns", "summary": "", "body": "Bring it back within 14 days."},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()
    html = client.get(page_url("returns")).content.decode()
    assert "Bring it back within 14 days." in html
    assert Page.objects.get(slug="returns").slug == "returns"  # its address is kept


def test_staff_cannot_delete_a_footer_page(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = Page.objects.get(slug="privacy")
    response = client.post(reverse("admin:shop_page_delete", args=[page.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Page.objects.filter(slug="privacy").exists()


def test_an_unknown_page_is_404(client):
    assert client.get(page_url("no-such-page")).status_code == 404


def test_html_typed_by_staff_is_shown_as_text(client):
    Page.objects.filter(slug="about").update(
        body='Hello <script>alert("x")</script> <b>bold</b>\n\n- <img src=x onerror=alert(1)>'
    )
    html = client.get(page_url("about")).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_plain_text_becomes_paragraphs_headings_lists_and_links():
    html = render_text(
        "## Our promise\nFirst line\nsecond line\n\n- one\n* two\n\nSee www.odpc.go.ke."
    )
    assert "<h2>Our promise</h2>" in html
    assert "<p>First line<br>second line</p>" in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert '://www.odpc.go.ke" rel="nofollow">www.odpc.go.ke</a>.' in html


def test_the_delivery_page_lists_the_live_zones_and_fees(client):
    DeliveryZone.objects.create(
        name="Nairobi",
        counties=["Nairobi"],
        fee=Decimal("200"),
        free_over=Decimal("10000"),
        delivery_days="Next day",
    )
    DeliveryZone.objects.create(
        name="Rest of Kenya", fee=Decimal("500"), delivery_days="2–4 days", is_fallback=True
    )
    html = client.get(page_url("delivery")).content.decode()
    table = html[html.index('data-testid="delivery-zones"') :]
    assert "Nairobi" in table and "KES 200" in table and "KES 10,000" in table
    assert "Next day" in table
    assert "Rest of Kenya" in table and "KES 500" in table and "All other counties" in table
    DeliveryZone.objects.filter(name="Nairobi").update(fee=Decimal("250"))
    assert "KES 250" in client.get(page_url("delivery")).content.decode()


def test_the_pages_are_public_not_private(client):
    response = client.get(page_url("terms"))
    assert "no-store" not in response.get("Cache-Control", "")


def test_the_pages_are_in_the_sitemap(client):
    html = client.get("/sitemap.xml").content.decode()
    for slug in CORE_PAGES:
        assert page_url(slug) in html


# Kiswahili ----------------------------------------------------------------------


def in_kiswahili(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "sw"
    return client


def page_parts(html: str) -> tuple[str, str]:
    """Return the page's <h1> element and its body element (up to its end)."""
    heading = html[html.index("<h1") : html.index("</h1>")]
    body = html[html.index('class="page-body') : html.index("</div>", html.index("page-body"))]
    return heading, body


@pytest.mark.parametrize("slug", CORE_PAGES)
def test_each_page_has_a_kiswahili_version_from_the_migrations(client, slug):
    page = Page.objects.get(slug=slug)
    assert page.title_sw and page.summary_sw and len(page.body_sw) > 300
    html = in_kiswahili(client).get(page_url(slug)).content.decode()
    heading, body = page_parts(html)
    assert page.title_sw in heading and 'lang="en"' not in heading
    assert 'lang="en"' not in body
    first_line = page.body_sw.split("\n")[0][:60]
    assert first_line in body
    assert page.body.split("\n")[0][:60] not in body  # not the English text
    assert f"<title>{page.title_sw} ·" in html
    assert f'content="{page.summary_sw}"' in html


def test_the_kiswahili_privacy_notice_covers_the_data_protection_act():
    body = Page.objects.get(slug="privacy").body_sw
    for words in (
        "Sheria ya Ulinzi wa Data",
        "Data Protection Act, 2019",
        "mdhibiti wa data",
        "nambari ya risiti ya M-Pesa",
        "Anwani za kupelekewa",
        "miaka 5",
        "kuipata, kuirekebisha, kuifuta, kupinga",
        "Ofisi ya Kamishna wa Ulinzi wa Data",
        "www.odpc.go.ke",
    ):
        assert words in body


def test_english_readers_get_the_english_page_when_the_kiswahili_is_filled(client):
    page = Page.objects.get(slug="returns")
    html = client.get(page_url("returns")).content.decode()
    heading, body = page_parts(html)
    assert page.title in heading and page.title_sw not in html
    assert page.body.split("\n")[0][:60] in body
    assert "lang=" not in heading and "lang=" not in body


def test_a_blank_kiswahili_field_falls_back_to_the_english_one(client):
    Page.objects.filter(slug="about").update(
        title="About Duka Tech", title_sw="", summary_sw="", body="We sell phones.", body_sw=""
    )
    html = in_kiswahili(client).get(page_url("about")).content.decode()
    assert '<html lang="sw">' in html  # the rest of the page is in Kiswahili
    heading, body = page_parts(html)
    assert "About Duka Tech" in heading and 'lang="en"' in heading
    assert "<p>We sell phones.</p>" in body and 'lang="en"' in body
    assert "<title>About Duka Tech ·" in html


def test_each_field_falls_back_on_its_own(client):
    Page.objects.filter(slug="about").update(
        title_sw="Kuhusu Duka Tech", body="We sell phones.", body_sw="   "
    )
    html = in_kiswahili(client).get(page_url("about")).content.decode()
    heading, body = page_parts(html)
    assert "Kuhusu Duka Tech" in heading and 'lang="en"' not in heading
    assert "<p>We sell phones.</p>" in body and 'lang="en"' in body


def test_staff_write_the_kiswahili_beside_the_english_in_the_admin(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = Page.objects.get(slug="returns")
    change = reverse("admin:shop_page_change", args=[page.pk])
    form = client.get(change).content.decode()
    for name in ("title", "summary", "body"):  # one row holds both languages
        assert f'class="form-row field-{name} field-{name}_sw"' in form
    response = client.post(
        change,
        {
            "title": "Returns",
            "title_sw": "Kurudisha bidhaa",
            "summary": "",
            "summary_sw": "",
            "body": "Bring it back within 14 days.",
            "body_sw": "Irudishe ndani ya siku 14.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()
    html = in_kiswahili(client).get(page_url("returns")).content.decode()
    assert "Kurudisha bidhaa" in html and "Irudishe ndani ya siku 14." in html
    assert "Bring it back within 14 days." not in html


def test_a_page_staff_rewrote_gets_no_kiswahili_default():
    migration = importlib.import_module("shop.migrations.0011_page_kiswahili")
    Page.objects.update(title_sw="", summary_sw="", body_sw="")
    Page.objects.filter(slug="about").update(body="We sell phones in Nakuru.")
    Page.objects.filter(slug="terms").update(title_sw="Masharti yetu")

    migration.add_kiswahili(django_apps, None)

    about = Page.objects.get(slug="about")
    assert (about.title_sw, about.summary_sw, about.body_sw) == ("", "", "")
    terms = Page.objects.get(slug="terms")
    assert terms.title_sw == "Masharti yetu"  # what staff wrote is kept
    assert terms.body_sw.startswith("Masharti haya yanatumika")
    assert Page.objects.get(slug="contact").body_sw.startswith("Tunapatikana")
