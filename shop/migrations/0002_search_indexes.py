"""PostgreSQL search indexes: full-text and trigram over Product.search_text.

Created only on PostgreSQL; SQLite searches with a plain substring match.
"""

from django.db import migrations

TRIGRAM_INDEX = "shop_product_search_trgm"
FULLTEXT_INDEX = "shop_product_search_fts"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    Product = apps.get_model("shop", "Product")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.add_index(
        Product, GinIndex(fields=["search_text"], name=TRIGRAM_INDEX, opclasses=["gin_trgm_ops"])
    )
    schema_editor.add_index(
        Product, GinIndex(SearchVector("search_text", config="simple"), name=FULLTEXT_INDEX)
    )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {FULLTEXT_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
