# ruff: noqa: T201, E501  (a command-line tool that reports progress; its data tables are long)
"""Seed a big synthetic catalogue into a PostgreSQL bench database, fast (COPY).

    DJANGO_SETTINGS_MODULE=storefront.settings DATABASE_URL=postgres://.../storefront_bench_100k \\
        .venv/bin/python bench/seed_big.py --products 100000

Adds synthetic products (slug ``bench-NNNNNNN``) until the database holds N of them (those
already there count), on top of the demo catalogue (`seed_demo` must have run: its brands,
categories, attribute values and pictures are reused). Per product: 2 to 4 variants with
attribute values that fit its category (storage and colour for phones and tablets, RAM and
storage for laptops, screen size for TVs, colour for the rest), a primary picture from the demo's
pool, and the denormalised columns the shop keeps (``price``, ``compare_at_price``,
``search_text``) written exactly as ``shop.services.catalogue.refresh_product_summaries`` writes
them. Brands and categories follow skewed, shop-like weights; about 3% of products are inactive,
about 15% of variants sold out, 25% have a struck-out price.

Speed: rows are generated in Python and streamed with COPY, in one transaction that first drops
the secondary indexes of the tables it fills (not the primary keys and unique constraints) and
builds them again at the end, with ``session_replication_role = replica`` so foreign keys are not
checked row by row (the rows are generated consistent). Then the catalogue version is bumped;
``bench/run.sh`` runs VACUUM ANALYZE afterwards. Any failure rolls everything back.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Category name -> (weight, attribute dimensions of its variants, name families by brand)
PLAN = {
    "Smartphones": (30, ("storage", "colour")),
    "Feature Phones": (4, ("colour",)),
    "Laptops": (12, ("ram", "storage")),
    "Tablets": (8, ("storage", "colour")),
    "Headphones & Earbuds": (11, ("colour",)),
    "Speakers": (6, ("colour",)),
    "TVs": (6, ("size",)),
    "Wearables": (6, ("colour",)),
    "Chargers & Cables": (10, ("colour",)),
    "Power Banks": (5, ("colour",)),
    "Gaming": (2, ("storage",)),
}
BRANDS_FOR = {
    "Smartphones": ["Samsung", "Tecno", "Infinix", "Xiaomi", "Apple", "Oppo", "Nokia"],
    "Feature Phones": ["Nokia", "Tecno", "Infinix", "Samsung"],
    "Laptops": ["HP", "Lenovo", "Apple", "Samsung"],
    "Tablets": ["Samsung", "Apple", "Lenovo", "Xiaomi", "Tecno"],
    "Headphones & Earbuds": ["Oraimo", "JBL", "Sony", "Samsung", "Apple", "Xiaomi"],
    "Speakers": ["JBL", "Sony", "Oraimo", "Xiaomi"],
    "TVs": ["Samsung", "Sony", "Xiaomi", "HP"],
    "Wearables": ["Oraimo", "Samsung", "Apple", "Xiaomi"],
    "Chargers & Cables": ["Oraimo", "Samsung", "Apple", "Xiaomi", "Tecno", "Infinix"],
    "Power Banks": ["Oraimo", "Xiaomi", "Samsung"],
    "Gaming": ["Sony"],
}
FAMILIES = {
    "Samsung": ["Galaxy A", "Galaxy S", "Galaxy M", "Galaxy Tab", "Galaxy Buds", "Galaxy Watch"],
    "Apple": ["iPhone", "iPad", "MacBook Air", "AirPods", "Watch Series"],
    "Tecno": ["Spark", "Camon", "Pova", "Phantom"],
    "Infinix": ["Hot", "Note", "Smart", "Zero"],
    "Xiaomi": ["Redmi", "Redmi Note", "Poco", "Mi"],
    "Oppo": ["A", "Reno", "Find"],
    "Nokia": ["G", "C", "105", "110"],
    "HP": ["ProBook", "EliteBook", "Pavilion", "Victus"],
    "Lenovo": ["IdeaPad", "ThinkPad", "Tab", "Legion"],
    "Sony": ["Bravia", "WH", "SRS", "PlayStation"],
    "JBL": ["Flip", "Charge", "Tune", "Go"],
    "Oraimo": ["FreePods", "Watch", "PowerBox", "Traveller"],
}
# Product lines of a brand by kind of device (brand's families are used only where they fit);
# elsewhere a product is named by the kind of thing it is.
FAMILY_CATEGORIES = {
    "Smartphones": {"Samsung": ["Galaxy A", "Galaxy S", "Galaxy M"], "Apple": ["iPhone"]},
    "Tablets": {
        "Samsung": ["Galaxy Tab"],
        "Apple": ["iPad"],
        "Lenovo": ["Tab"],
        "Xiaomi": ["Pad"],
        "Tecno": ["MegaPad"],
    },
    "Laptops": {"Samsung": ["Galaxy Book"], "Apple": ["MacBook Air", "MacBook Pro"]},
    "Headphones & Earbuds": {
        "Samsung": ["Galaxy Buds"],
        "Apple": ["AirPods"],
        "Sony": ["WH", "WF"],
        "JBL": ["Tune", "Live"],
        "Oraimo": ["FreePods"],
        "Xiaomi": ["Redmi Buds"],
    },
    "Speakers": {"JBL": ["Flip", "Charge", "Go"], "Sony": ["SRS"]},
    "TVs": {"Samsung": ["Crystal UHD", "QLED"], "Sony": ["Bravia"], "Xiaomi": ["Mi TV"]},
    "Wearables": {
        "Samsung": ["Galaxy Watch"],
        "Apple": ["Watch Series"],
        "Oraimo": ["Watch"],
        "Xiaomi": ["Smart Band"],
    },
    "Gaming": {"Sony": ["PlayStation"]},
}
KIND_WORDS = {
    "Feature Phones": ["Feature Phone", "Dual SIM"],
    "Headphones & Earbuds": ["Earbuds", "Headphones"],
    "Speakers": ["Bluetooth Speaker", "Soundbar"],
    "TVs": ["Smart TV", "LED TV"],
    "Wearables": ["Smartwatch", "Fitness Band"],
    "Chargers & Cables": ["Fast Charger", "USB-C Cable", "Car Charger", "Lightning Cable"],
    "Power Banks": ["Power Bank", "PowerBox"],
    "Laptops": ["Laptop", "Notebook"],
}
SUFFIXES = ["", "", "", " Pro", " Plus", " Lite", " Max", " Ultra", " Neo", " 5G"]
PRICE_RANGE = {  # whole shillings, cheapest variant
    "Smartphones": (8_000, 180_000),
    "Feature Phones": (1_500, 6_000),
    "Laptops": (35_000, 300_000),
    "Tablets": (12_000, 200_000),
    "Headphones & Earbuds": (1_000, 45_000),
    "Speakers": (2_000, 60_000),
    "TVs": (20_000, 400_000),
    "Wearables": (2_500, 80_000),
    "Chargers & Cables": (300, 6_000),
    "Power Banks": (1_500, 9_000),
    "Gaming": (45_000, 120_000),
}


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (k**s) for k in range(1, n + 1)]


def secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of TABLE's indexes that back no constraint (not pk, not unique)."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        """,
        [table],
    )
    return cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, required=True, help="synthetic products wanted")
    parser.add_argument("--seed", type=int, default=13, help="random seed (same seed, same data)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.db.models import DateTimeField
    from django.utils import timezone

    from shop.models import (
        AttributeValue,
        Brand,
        Category,
        Product,
        ProductImage,
        ProductVariant,
    )

    if connection.vendor != "postgresql":
        sys.exit("seed_big.py needs PostgreSQL (it loads with COPY)")
    if "bench" not in connection.settings_dict["NAME"]:
        sys.exit("refusing: the database name must contain 'bench'")

    started = time.monotonic()
    existing = Product.objects.filter(slug__startswith="bench-").count()
    wanted = args.products - existing
    if wanted <= 0:
        print(f"already {existing} synthetic products, nothing to add")
        return
    brands = {b.name: b for b in Brand.objects.all()}
    categories = {c.pk: c for c in Category.objects.all()}
    parents = {c.parent_id for c in categories.values() if c.parent_id}
    leaves = [c for c in categories.values() if c.pk not in parents]
    plan = []  # (category, weight, dimensions, brands, brand weights)
    for category in leaves:
        weight, dims = PLAN.get(category.name, (2, ("colour",)))
        names = [n for n in BRANDS_FOR.get(category.name, []) if n in brands] or list(brands)
        plan.append((category, weight, dims, [brands[n] for n in names], zipf_weights(len(names))))
    if not plan or not brands:
        sys.exit("no categories or brands: run `manage.py seed_demo` first")
    values = {}
    for value in AttributeValue.objects.select_related("attribute").order_by("sort_order", "pk"):
        values.setdefault(value.attribute.slug, []).append(value)

    def value_order(v):  # AttributeValue's Meta.ordering, as the shop's prefetch reads them
        return (v.attribute.sort_order, v.sort_order, v.value)

    pool = list(ProductImage.objects.filter(is_primary=True).values_list("image", flat=True)[:40])

    def chain(category_id):  # the category and its ancestors, as refresh_product_summaries
        names, category = [], categories.get(category_id)
        while category is not None:
            names.append(category.name)
            category = categories.get(category.parent_id)
        return names

    chains = {c.pk: chain(c.pk) for c, *_ in plan}
    rng = random.Random(args.seed + existing)
    now = timezone.now()

    def columns(model):
        return [f for f in model._meta.concrete_fields if not f.generated]

    def row(fields, given):
        out = []
        for f in fields:
            if f.attname in given:
                out.append(given[f.attname])
                continue
            value = f.get_default()
            if value is None and not f.null and isinstance(f, DateTimeField):
                value = now
            if value is None and not f.null:
                sys.exit(f"seed_big.py does not know what to put in {f.model.__name__}.{f.name}")
            out.append(value)
        return out

    through = ProductVariant.values.through
    tables = {
        Product: columns(Product),
        ProductVariant: columns(ProductVariant),
        through: columns(through),
        ProductImage: columns(ProductImage),
    }

    def next_id(cursor, model):
        cursor.execute(f'SELECT coalesce(max(id), 0) + 1 FROM "{model._meta.db_table}"')
        return cursor.fetchone()[0]

    cat_weights = [p[1] for p in plan]
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        dropped = []
        for model in tables:
            for name, definition in secondary_indexes(cursor, model._meta.db_table):
                dropped.append((name, definition))
                cursor.execute(f'DROP INDEX "{name}"')
        pid, vid, tid, iid = (
            next_id(cursor, m) for m in (Product, ProductVariant, through, ProductImage)
        )
        products, variants, links, images = [], [], [], []
        for n in range(existing, args.products):
            category, _w, dims, cat_brands, brand_weights = rng.choices(plan, weights=cat_weights)[
                0
            ]
            brand = rng.choices(cat_brands, weights=brand_weights)[0]
            lines = FAMILY_CATEGORIES.get(category.name, {}).get(brand.name)
            if lines is None and category.name in ("Smartphones", "Laptops", "Tablets"):
                lines = FAMILIES.get(brand.name)
            family = rng.choice(lines or KIND_WORDS.get(category.name) or ["Model"])
            name = f"{brand.name} {family} {rng.randint(1, 99)}{rng.choice(SUFFIXES)} ({n})"
            low, high = PRICE_RANGE.get(category.name, (1_000, 100_000))
            base = int(low * (high / low) ** (rng.random() ** 1.5)) // 100 * 100 - 1
            # 2 to 4 variants over the category's dimensions, each a distinct combination
            count = rng.choice((2, 2, 3, 3, 4))
            options = []
            for dim in dims:
                choices = values.get(dim) or []
                if dim == "storage":  # sizes for devices, editions (disc, digital) for consoles
                    game = category.name == "Gaming"
                    choices = [v for v in choices if ("edition" in v.slug) == game] or choices
                if choices:
                    k = min(len(choices), 2 if len(dims) > 1 else count)
                    options.append(sorted(rng.sample(choices, k), key=lambda v: v.sort_order))
            combos = [[]]
            for opts in options:
                combos = [c + [o] for c in combos for o in opts]
            combos = combos[:count] if combos and combos[0] else [[] for _ in range(count)]
            slug = f"bench-{n:07d}"
            summary = f"{category.name[:-1] if category.name.endswith('s') else category.name} by {brand.name}."
            product_variants = []
            for k, combo in enumerate(combos):
                price = Decimal(base + k * max(500, base // 8 // 100 * 100))
                compare = price + price // 10 // 100 * 100 + 100 if rng.random() < 0.25 else None
                on_hand = 0 if rng.random() < 0.15 else rng.randint(1, 60)
                allocated = rng.randint(0, min(on_hand, 3)) if on_hand and rng.random() < 0.2 else 0
                product_variants.append(
                    {
                        "id": vid,
                        "product_id": pid,
                        "sku": f"BENCH-{n:07d}-{k}",
                        "name": " · ".join(v.value for v in combo) or f"Option {k + 1}",
                        "price": price,
                        "compare_at_price": compare,
                        "stock_on_hand": on_hand,
                        "stock_allocated": allocated,
                        "sort_order": k,
                        "created": now - timedelta(minutes=n),
                        "updated": now,
                    }
                )
                for value in combo:
                    links.append(
                        {"id": tid, "productvariant_id": vid, "attributevalue_id": value.pk}
                    )
                    tid += 1
                vid += 1
            variants.extend(product_variants)
            cheapest = min(product_variants, key=lambda v: (v["price"], v["id"]))
            words = [name, brand.name, summary, *chains[category.pk]]
            for v in sorted(product_variants, key=lambda v: (v["price"], v["id"])):
                words.extend([v["sku"], v["name"]])
                words.extend(x.value for x in sorted(combos[v["sort_order"]], key=value_order))
            rated = rng.random() < 0.3
            products.append(
                {
                    "id": pid,
                    "name": name,
                    "slug": slug,
                    "brand_id": brand.pk,
                    "category_id": category.pk,
                    "summary": summary,
                    "description": "A generated product for the benchmark.",
                    "is_active": rng.random() >= 0.03,
                    "is_featured": rng.random() < 0.05,
                    "is_new": rng.random() < 0.05,
                    "is_hot": rng.random() < 0.05,
                    "price": cheapest["price"],
                    "compare_at_price": cheapest["compare_at_price"],
                    "units_sold": int(rng.paretovariate(1.2)) - 1,
                    "rating_average": Decimal(rng.randint(250, 500)) / 100 if rated else Decimal(0),
                    "rating_count": rng.randint(1, 200) if rated else 0,
                    "search_text": " ".join(w for w in words if w).lower(),
                    "created": now - timedelta(minutes=n),
                    "updated": now,
                }
            )
            if pool:
                images.append(
                    {
                        "id": iid,
                        "product_id": pid,
                        "image": rng.choice(pool),
                        "alt": name,
                        "is_primary": True,
                        "sort_order": 0,
                    }
                )
                iid += 1
            pid += 1
            if len(products) >= 20_000 or n == args.products - 1:
                for model, rows in (
                    (Product, products),
                    (ProductVariant, variants),
                    (through, links),
                    (ProductImage, images),
                ):
                    fields = tables[model]
                    cols = ", ".join(f'"{f.column}"' for f in fields)
                    with raw.copy(f'COPY "{model._meta.db_table}" ({cols}) FROM STDIN') as copy:
                        for given in rows:
                            copy.write_row(row(fields, given))
                    rows.clear()
                done = n + 1 - existing
                print(
                    f"  {done:,} / {wanted:,} products ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
        t_index = time.monotonic()
        for _name, definition in dropped:
            cursor.execute(definition)
        print(f"  rebuilt {len(dropped)} indexes in {time.monotonic() - t_index:.0f} s", flush=True)
        for model in tables:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT max(id) FROM "{table}"))'
            )
    # COPY sends no signals: count the listings' facets as a catalogue import would.
    from shop.services import rebuild_facet_counts

    t_facets = time.monotonic()
    cells = rebuild_facet_counts()
    print(f"  counted {cells:,} facet cells in {time.monotonic() - t_facets:.0f} s", flush=True)
    try:
        from shop.fragments import catalogue_changed

        catalogue_changed()
    except Exception as exc:  # the page cache is optional here (e.g. Redis down)
        print(f"  (catalogue version not bumped: {exc})")
    print(f"seeded {wanted:,} products in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
