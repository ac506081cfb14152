"""The daily low-stock email to staff, and its place in the task queue."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from accounts.tests.factories import UserFactory
from shop.models import ProductVariant
from shop.tasks import next_report_time, send_low_stock_report

from .factories import make_product

pytestmark = pytest.mark.django_db

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture
def staff():
    UserFactory(email="stock@duka.test", is_staff=True)
    UserFactory(email="shopper@example.com")  # not staff: never gets it


def variant(stock, threshold=3, **fields) -> ProductVariant:
    v = make_product(stock=stock, image=False, **fields).variants.get()
    ProductVariant.objects.filter(pk=v.pk).update(low_stock_threshold=threshold)
    return ProductVariant.objects.select_related("product").get(pk=v.pk)


def test_staff_get_the_variants_at_or_below_their_threshold(staff):
    low = variant(2)
    out = variant(0)
    held = variant(5)
    ProductVariant.objects.filter(pk=held.pk).update(stock_allocated=3)  # 2 available
    plenty = variant(20)
    hidden = variant(0)
    hidden.product.is_active = False
    hidden.product.save()
    assert send_low_stock_report.call(reschedule=False) == 3
    (message,) = mail.outbox
    assert message.to == ["stock@duka.test"]
    assert message.subject == "Low stock: 3 items to reorder (1 sold out)"
    for v in (low, out, held):
        assert v.sku in message.body
    assert plenty.sku not in message.body and hidden.sku not in message.body
    assert f"{out.sku}: SOLD OUT" in message.body and f"{held.sku}: 2 left" in message.body
    assert "/staff/shop/productvariant/?stock=low" in message.body
    assert "Sold out" in message.alternatives[0][0]


def test_no_email_when_nothing_runs_low(staff):
    variant(20)
    assert send_low_stock_report.call(reschedule=False) == 0
    assert mail.outbox == []


def test_staff_emails_setting_overrides_the_staff_list(staff, settings):
    settings.STAFF_EMAILS = ["buyer@duka.test"]
    variant(1)
    send_low_stock_report.call(reschedule=False)
    assert mail.outbox[0].to == ["buyer@duka.test"]


def test_the_report_runs_at_seven_in_the_morning_shop_time():
    evening = datetime(2026, 12, 1, 20, 0, tzinfo=NAIROBI)
    dawn = datetime(2026, 12, 1, 5, 30, tzinfo=NAIROBI)
    assert next_report_time(evening) == datetime(2026, 12, 2, 7, 0, tzinfo=NAIROBI)
    assert next_report_time(dawn) == datetime(2026, 12, 1, 7, 0, tzinfo=NAIROBI)


def test_the_report_leaves_tomorrows_to_the_scheduler(staff):
    """The scheduler queues each day's report (shop/jobs.py); the report queues nothing."""
    send_low_stock_report.call()
    assert not DBTaskResult.objects.filter(task_path="shop.tasks.send_low_stock_report").exists()
    call_command("schedule_jobs")
    assert not DBTaskResult.objects.exists()


def test_the_command_sends_it_now(staff, capsys):
    variant(1)
    call_command("low_stock_report")
    assert "1 variant(s) low on stock." in capsys.readouterr().out
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("hide", [False, True])
def test_sold_out_products_can_be_left_out_of_listings(client, settings, hide):
    settings.HIDE_SOLD_OUT_PRODUCTS = hide
    selling = make_product(name="Tecno Spark 20", stock=4, image=False)
    sold_out = make_product(name="Tecno Camon 30", stock=0, image=False)
    for url in ("/", "/products/", "/search/?q=tecno"):
        html = client.get(url).content.decode()
        assert selling.name in html
        assert (sold_out.name in html) is not hide
    page = client.get(sold_out.get_absolute_url())
    assert page.status_code == 200 and "Out of stock" in page.content.decode()
