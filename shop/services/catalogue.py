"""Business rules of the catalogue."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Prefetch

from ..fragments import catalogue_changed
from ..models import Category, Product, ProductVariant


@transaction.atomic
def refresh_product_summaries(*, product_ids: Iterable[int]) -> int:
    """Recompute the denormalised price and search text of the given products.

    Cards, the price filter and the price sort read ``Product.price`` (the
    cheapest active variant) so that listing pages need no aggregate over
    variants; search reads ``Product.search_text``. Call this after changing
    variants, specifications, names, brand or category. Bumps the catalogue
    version (``bulk_update`` sends no signals). Return the number of
    products updated.
    """
    ids = list(product_ids)
    if not ids:
        return 0
    categories = {c.pk: c for c in Category.objects.only("id", "name", "parent_id")}
    products = (
        Product.objects.filter(pk__in=ids)
        .select_related("brand")
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=ProductVariant.objects.prefetch_related("values").order_by("price", "id"),
            ),
            "specifications",
        )
    )
    changed = []
    for product in products:
        active = [v for v in product.variants.all() if v.is_active]
        cheapest = active[0] if active else None
        product.price = cheapest.price if cheapest else 0
        product.compare_at_price = (
            cheapest.compare_at_price
            if cheapest and cheapest.compare_at_price and cheapest.compare_at_price > cheapest.price
            else None
        )
        words = [product.name, product.brand.name, product.summary]
        category = categories.get(product.category_id)
        while category is not None:
            words.append(category.name)
            category = categories.get(category.parent_id)
        for variant in product.variants.all():
            words.extend([variant.sku, variant.name])
            words.extend(value.value for value in variant.values.all())
        for spec in product.specifications.all():
            words.extend([spec.name, spec.value])
        product.search_text = " ".join(w for w in words if w).lower()
        changed.append(product)
    Product.objects.bulk_update(changed, ["price", "compare_at_price", "search_text"])
    catalogue_changed()
    return len(changed)
