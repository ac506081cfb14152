"""One row per product and option value of its active variants, for facet counts.

Filled here for the catalogue as it stands; kept by
``shop.services.catalogue.recount_facets_of`` from now on.
"""

import django.db.models.deletion
from django.db import migrations, models


def list_every_value(apps, schema_editor):
    """Write every product's values (as ``shop.services.catalogue._list_values``)."""
    ProductVariant = apps.get_model("shop", "ProductVariant")
    ProductValue = apps.get_model("shop", "ProductValue")
    links = ProductVariant.values.through._meta.db_table
    schema_editor.execute(
        f"INSERT INTO {ProductValue._meta.db_table} (product_id, value_id) "
        f"SELECT DISTINCT v.product_id, l.attributevalue_id FROM {links} l "
        f"JOIN {ProductVariant._meta.db_table} v ON v.id = l.productvariant_id "
        "WHERE v.is_active = %s",
        [True],
    )


class Migration(migrations.Migration):
    dependencies = [("shop", "0014_product_search_vector")]

    operations = [
        migrations.CreateModel(
            name="ProductValue",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "product",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="shop.product",
                    ),
                ),
                (
                    "value",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="shop.attributevalue",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("product", "value"), name="product_value_once"
                    )
                ],
            },
        ),
        migrations.RunPython(list_every_value, migrations.RunPython.noop),
    ]
