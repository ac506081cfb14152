"""Facet counts of the products in stock, for lists filtered to "in stock only".

Counted here for the catalogue as it stands; kept by
``shop.services.catalogue.recount_facets`` from now on (also when a variant
runs out or comes back).
"""

from django.db import migrations, models
from django.db.models import Count, Exists, F, OuterRef, Q


def count_in_stock(apps, schema_editor):
    """Fill ``in_stock`` of every cell (as ``shop.services.catalogue._count`` counts it)."""
    FacetCount = apps.get_model("shop", "FacetCount")
    Product = apps.get_model("shop", "Product")
    ProductVariant = apps.get_model("shop", "ProductVariant")
    in_stock = ProductVariant.objects.filter(
        product=OuterRef("pk"), is_active=True, stock_on_hand__gt=F("stock_allocated")
    )
    counts = {
        (c, b, 0): n
        for c, b, n in Product.objects.filter(is_active=True)
        .filter(Exists(in_stock))
        .values_list("category_id", "brand_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    links = ProductVariant.values.through.objects.filter(
        Q(productvariant__stock_on_hand__gt=F("productvariant__stock_allocated")),
        productvariant__is_active=True,
        productvariant__product__is_active=True,
    )
    counts.update(
        ((c, b, v), n)
        for c, b, v, n in links.values_list(
            "productvariant__product__category_id",
            "productvariant__product__brand_id",
            "attributevalue_id",
        )
        .annotate(n=Count("productvariant__product_id", distinct=True))
        .order_by()
    )
    cells = list(FacetCount.objects.all())
    for cell in cells:
        cell.in_stock = counts.get((cell.category_id, cell.brand_id, cell.value_id), 0)
    FacetCount.objects.bulk_update(cells, ["in_stock"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("shop", "0015_product_values")]

    operations = [
        migrations.AddField(
            model_name="facetcount",
            name="in_stock",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_in_stock, migrations.RunPython.noop),
    ]
