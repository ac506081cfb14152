"""Factories for catalogue tests."""

import io
from decimal import Decimal

import factory
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from shop import services
from shop.models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    Product,
    ProductImage,
    ProductSpecification,
    ProductVariant,
)


def tiny_jpeg(colour: str = "#336699") -> ContentFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buffer, format="JPEG")
    return ContentFile(buffer.getvalue(), name="p.jpg")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Phone {n}")
    slug = factory.Sequence(lambda n: f"phone-{n}")
    brand = factory.SubFactory(BrandFactory)
    category = factory.SubFactory(CategoryFactory)
    description = "A phone."


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Option {n}")
    price = Decimal("10000.00")
    stock_on_hand = 5


class AttributeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attribute
        django_get_or_create = ("slug",)

    name = "Storage"
    slug = "storage"


class AttributeValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AttributeValue
        django_get_or_create = ("attribute", "slug")

    attribute = factory.SubFactory(AttributeFactory)
    value = "128 GB"
    slug = "128-gb"


def make_product(
    *,
    brand=None,
    category=None,
    name=None,
    prices=("10000",),
    stock=5,
    values=None,
    image=True,
    specs=(),
    **fields,
) -> Product:
    """Create a product with one variant per price, an image and summaries."""
    kwargs = {k: v for k, v in {"brand": brand, "category": category, "name": name}.items() if v}
    product = ProductFactory(**kwargs, **fields)
    for index, price in enumerate(prices):
        variant = VariantFactory(product=product, price=Decimal(price), stock_on_hand=stock)
        if values:
            variant.values.set(values[index] if index < len(values) else [])
    if image:
        ProductImage.objects.create(product=product, image=tiny_jpeg(), is_primary=True)
    for order, (key, value) in enumerate(specs):
        ProductSpecification.objects.create(
            product=product, name=key, value=value, sort_order=order
        )
    services.refresh_product_summaries(product_ids=[product.pk])
    product.refresh_from_db()
    return product


@transaction.atomic
def move_order(*, order_id: int, to: str, actor=None, note: str = ""):
    """Drive the order state machine itself (only its own tests need this).

    The shop changes a status only through its services (pay, pack, ship,
    cancel, refund, expire), which all go through ``orders._move``.
    """
    from shop.services.orders import _move
    from storefront import locks

    return _move(locks.lock_order(order_id), to, actor=actor, note=note)
