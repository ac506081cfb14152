"""Search reads a stored vector of each product's words (PostgreSQL).

The full-text index moves from an expression over ``search_text`` to the
stored column: ranking a search's matches then reads each match's vector
instead of parsing its text again (264 ms to 31 ms for "galaxy" at 100,000
products). SQLite keeps the column empty and searches the text itself.
"""

import django.contrib.postgres.search
from django.db import migrations, models

import shop.models.catalogue

OLD_INDEX = "shop_product_search_fts"
NEW_INDEX = "shop_product_search_vector"


def index_the_vector(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}")
    schema_editor.execute(f"CREATE INDEX {NEW_INDEX} ON shop_product USING gin (search_vector)")
    # Statistics of the new column's words: without them the planner takes a
    # common word for a rare one and joins its matches row by row (3x slower).
    schema_editor.execute("ANALYZE shop_product")


def index_the_text(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NEW_INDEX}")
    schema_editor.execute(
        f"CREATE INDEX {OLD_INDEX} ON shop_product "
        "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, ''::text)))"
    )


class Migration(migrations.Migration):
    dependencies = [("shop", "0013_facet_counts")]

    operations = [
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=shop.models.catalogue.StoredSearchVector("search_text", config="simple"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.RunPython(index_the_vector, index_the_text),
    ]
