import pytest
from django.core.management import call_command

from shop.models import Brand, Category, Product, ProductImage, ProductVariant

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Category.objects.count(),
        Brand.objects.count(),
        Product.objects.count(),
        ProductVariant.objects.count(),
        ProductImage.objects.count(),
        sorted(ProductVariant.objects.values_list("sku", "price", "stock_on_hand")),
    )


def test_demo_catalogue_is_realistic_and_idempotent(capsys, settings):
    settings.DEBUG = True  # as make run
    call_command("seed_demo")
    first = snapshot()
    categories, brands, products, variants, images, _ = first
    assert categories >= 8 and Category.objects.filter(parent__isnull=False).exists()
    assert brands >= 10
    assert products >= 60
    assert variants > products
    assert images >= products
    assert not Product.objects.filter(price=0).exists()
    assert "staff@duka.test" in capsys.readouterr().out

    call_command("seed_demo")
    assert snapshot() == first


def test_synthetic_products_for_the_benchmark():
    call_command("seed_demo", products=25, no_staff=True)
    assert Product.objects.filter(slug__startswith="bench-").count() == 25
    call_command("seed_demo", products=25, no_staff=True)
    assert Product.objects.filter(slug__startswith="bench-").count() == 25
    bench = Product.objects.filter(slug__startswith="bench-").first()
    assert bench.price > 0 and bench.search_text


def test_demo_delivery_zones_start_with_nairobi_at_200():
    from decimal import Decimal

    from shop import services

    call_command("seed_demo", no_staff=True)
    assert services.delivery_quote(county="Nairobi", subtotal=Decimal("5000")).fee == Decimal("200")
    assert services.delivery_quote(county="Nairobi", subtotal=Decimal("10000")).fee == 0
    assert services.delivery_quote(county="Turkana", subtotal=Decimal("5000")).fee == Decimal("500")


def test_with_debug_off_the_demo_staff_login_needs_asking_for(capsys, settings):
    from django.contrib.auth import get_user_model

    settings.DEBUG = False
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "No demo staff login" in out and "duka-staff-2026" not in out
    assert not get_user_model().objects.filter(is_staff=True).exists()

    call_command("seed_demo", demo_staff_login=True)
    assert "staff@duka.test" in capsys.readouterr().out
    assert get_user_model().objects.get(is_staff=True).email == "staff@duka.test"
