"""Catalogue models: categories, brands, products, variants and their media."""

from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from storefront.web import is_safe_link

MONEY = {"max_digits": 12, "decimal_places": 2}


class StoredSearchVector(SearchVector):
    """PostgreSQL's ``to_tsvector``, stored in a generated column; nothing on SQLite.

    SQLite has no full-text vector: it searches ``search_text`` itself
    (``shop.queries.search_products``), so its column stays empty.
    """

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class TimeStampedModel(models.Model):
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Category(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        related_name="children",
        on_delete=models.PROTECT,
    )
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="categories/", blank=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category-detail", kwargs={"slug": self.slug})


class Brand(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    logo = models.ImageField(_("logo"), upload_to="brands/", blank=True)
    description = models.TextField(_("description"), blank=True)
    is_featured = models.BooleanField(_("featured"), default=False)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:brand-detail", kwargs={"slug": self.slug})


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def with_stock(self):
        """Annotate ``in_stock``: some active variant has units available.

        A scalar subquery, not EXISTS: PostgreSQL runs it for the rows a page
        returns only (an index probe each), where an EXISTS is planned as a
        hash of every available variant, built for each page of a listing.
        """
        return self.annotate(
            in_stock=Coalesce(
                Subquery(available_variants().annotate(yes=Value(True)).values("yes")[:1]),
                Value(False),
            )
        )

    def in_stock_only(self):
        """Keep the products with an active variant that has units available."""
        return self.filter(Exists(available_variants()))


def available_variants():
    """The active variants of the product ``OuterRef("pk")`` with units available."""
    return ProductVariant.objects.filter(
        product=OuterRef("pk"), is_active=True, stock_on_hand__gt=F("stock_allocated")
    )


class Product(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=220, unique=True)
    brand = models.ForeignKey(
        Brand, verbose_name=_("brand"), related_name="products", on_delete=models.PROTECT
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), related_name="products", on_delete=models.PROTECT
    )
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    is_featured = models.BooleanField(_("featured"), default=False)
    is_new = models.BooleanField(_("new"), default=False)
    is_hot = models.BooleanField(_("hot"), default=False)
    # Kept in step with the variants by services.refresh_product_summaries():
    # the cheapest active variant's prices, for cards, price filters and sort.
    price = models.DecimalField(_("price from"), default=0, editable=False, **MONEY)
    compare_at_price = models.DecimalField(
        _("compare-at price from"), null=True, blank=True, editable=False, **MONEY
    )
    units_sold = models.PositiveIntegerField(_("units sold"), default=0, editable=False)
    # Kept in step with the approved reviews by services.refresh_product_rating().
    rating_average = models.DecimalField(
        _("average rating"), max_digits=3, decimal_places=2, default=0, editable=False
    )
    rating_count = models.PositiveIntegerField(_("reviews"), default=0, editable=False)
    search_text = models.TextField(_("search text"), blank=True, editable=False)
    # The search text's words, kept by the database itself: search and its
    # ranking read them from the row instead of parsing the text per match.
    search_vector = models.GeneratedField(
        expression=StoredSearchVector("search_text", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created", "-id"]
        # One per listing sort (``shop.filters.SORTS``), in its exact order,
        # over the active products: a page of any size of catalogue reads its
        # rows in order and stops, instead of sorting every product.
        indexes = [
            models.Index(
                fields=["-is_featured", "-units_sold", "-created", "-id"],
                name="product_featured_idx",
                condition=Q(is_active=True),
            ),
            models.Index(
                fields=["-created", "-id"], name="product_newest_idx", condition=Q(is_active=True)
            ),
            models.Index(
                fields=["price", "id"], name="product_price_idx", condition=Q(is_active=True)
            ),
            models.Index(
                fields=["-units_sold", "-id"],
                name="product_popular_idx",
                condition=Q(is_active=True),
            ),
            models.Index(
                fields=["-rating_average", "-rating_count", "-id"],
                name="product_rating_idx",
                condition=Q(is_active=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product-detail", kwargs={"slug": self.slug})

    @property
    def primary_image(self):
        images = getattr(self, "primary_images", None)
        if images is not None:
            return images[0] if images else None
        return self.images.filter(is_primary=True).first()


class Attribute(models.Model):
    """A dimension variants differ in: colour, storage, RAM."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("attribute")
        verbose_name_plural = _("attributes")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class AttributeValue(models.Model):
    attribute = models.ForeignKey(
        Attribute, verbose_name=_("attribute"), related_name="values", on_delete=models.CASCADE
    )
    value = models.CharField(_("value"), max_length=60)
    slug = models.SlugField(_("slug"), max_length=60)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("attribute value")
        verbose_name_plural = _("attribute values")
        ordering = ["attribute__sort_order", "sort_order", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["attribute", "slug"], name="attribute_value_slug_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.attribute.name}: {self.value}"


#: Stock rules, written once. A variant is *sold out* when nothing is
#: available, and *running low* when what is available is at or below its
#: threshold (sold out included); *low stock* is running low but not out.
SOLD_OUT = Q(stock_on_hand__lte=F("stock_allocated"))
RUNNING_LOW = Q(stock_on_hand__lte=F("stock_allocated") + F("low_stock_threshold"))


class ProductVariantQuerySet(models.QuerySet):
    def sold_out(self):
        return self.filter(SOLD_OUT)

    def running_low(self):
        """Return the variants at or below their low-stock threshold (sold out included)."""
        return self.filter(RUNNING_LOW)

    def low_stock(self):
        """Return the variants running low that still have some available."""
        return self.filter(RUNNING_LOW).exclude(SOLD_OUT)


class ProductVariant(TimeStampedModel):
    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="variants", on_delete=models.CASCADE
    )
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(
        _("name"), max_length=200, blank=True, help_text=_("e.g. 256 GB · Black")
    )
    values = models.ManyToManyField(
        AttributeValue, verbose_name=_("attributes"), related_name="variants", blank=True
    )
    price = models.DecimalField(_("price"), **MONEY)
    compare_at_price = models.DecimalField(
        _("compare-at price"),
        null=True,
        blank=True,
        help_text=_("The old price, shown struck through when higher than the price."),
        **MONEY,
    )
    stock_on_hand = models.IntegerField(_("stock on hand"), default=0)
    stock_allocated = models.IntegerField(
        _("stock allocated"),
        default=0,
        help_text=_("Units held by orders that are placed but not yet shipped."),
    )
    low_stock_threshold = models.PositiveIntegerField(_("low-stock threshold"), default=3)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    objects = ProductVariantQuerySet.as_manager()

    class Meta:
        verbose_name = _("product variant")
        verbose_name_plural = _("product variants")
        ordering = ["sort_order", "price", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stock_on_hand__gte=0), name="variant_stock_on_hand_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(stock_allocated__gte=0) & Q(stock_allocated__lte=F("stock_on_hand")),
                name="variant_stock_allocated_within_on_hand",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_gte_0"),
        ]
        indexes = [models.Index(fields=["product", "is_active"], name="variant_product_idx")]

    def __str__(self) -> str:
        return f"{self.product.name} ({self.label})" if self.label else self.product.name

    def get_absolute_url(self) -> str:
        return f"{self.product.get_absolute_url()}?variant={self.pk}"

    @property
    def label(self) -> str:
        return self.name or self.sku

    @property
    def stock_available(self) -> int:
        return max(self.stock_on_hand - self.stock_allocated, 0)

    @property
    def in_stock(self) -> bool:
        return self.is_active and self.stock_available > 0

    def runs_low_at(self, available: int) -> bool:
        """Whether *available* units are at or below the threshold (``RUNNING_LOW``)."""
        return available <= self.low_stock_threshold

    @property
    def is_low_stock(self) -> bool:
        return self.stock_available > 0 and self.runs_low_at(self.stock_available)


class ProductImage(models.Model):
    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="images", on_delete=models.CASCADE
    )
    variant = models.ForeignKey(
        ProductVariant,
        verbose_name=_("variant"),
        related_name="images",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text=_("Show this image when the shopper picks this variant."),
    )
    image = models.ImageField(_("image"), upload_to="products/")
    alt = models.CharField(_("alt text"), max_length=200, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        ordering = ["-is_primary", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(is_primary=True), name="one_primary_image"
            )
        ]

    def __str__(self) -> str:
        return self.alt or self.image.name


class ProductSpecification(models.Model):
    product = models.ForeignKey(
        Product, verbose_name=_("product"), related_name="specifications", on_delete=models.CASCADE
    )
    name = models.CharField(_("name"), max_length=80)
    value = models.CharField(_("value"), max_length=300)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("specification")
        verbose_name_plural = _("specifications")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class BannerQuerySet(models.QuerySet):
    def live(self, now=None):
        now = now or timezone.now()
        return self.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now),
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            is_active=True,
        )


class Banner(models.Model):
    class Placement(models.TextChoices):
        HERO = "hero", _("Hero")
        PROMO = "promo", _("Promo")

    title = models.CharField(_("title"), max_length=120)
    subtitle = models.CharField(_("subtitle"), max_length=240, blank=True)
    placement = models.CharField(
        _("placement"), max_length=10, choices=Placement.choices, default=Placement.HERO
    )
    image = models.ImageField(_("image"), upload_to="banners/", blank=True)
    link_url = models.CharField(_("link"), max_length=300, blank=True)
    link_text = models.CharField(_("link text"), max_length=60, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    objects = BannerQuerySet.as_manager()

    class Meta:
        verbose_name = _("banner")
        verbose_name_plural = _("banners")
        ordering = ["placement", "sort_order", "id"]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        super().clean()
        if self.link_url and not is_safe_link(self.link_url):
            raise ValidationError(
                {
                    "link_url": _(
                        "Give a page of the shop starting with a single “/” (e.g. /c/phones/) "
                        "or a full address starting with https:// or http://. Other links "
                        "(javascript:, data:, //host) are not allowed."
                    )
                }
            )

    @property
    def href(self) -> str:
        """Return the link for pages, or "" when it is not a safe one (never rendered)."""
        return self.link_url if is_safe_link(self.link_url) else ""


class FacetCount(models.Model):
    """How many active products of one category and brand have an option value.

    One row per category, brand and attribute value (``value_id`` 0: how many
    active products the category has of the brand), kept up to date by
    ``shop.services.catalogue.recount_facets`` whenever a product, a variant
    or its options change, or a variant runs out or comes back. A listing's
    facet counts over a whole category, a brand or the catalogue then add up
    a few hundred rows, whatever the number of products: with or without
    "in stock only" (``in_stock``: the products with an active variant in
    stock that has the value). Prices are not counted: lists filtered by
    them count their products as they render.
    """

    category_id = models.BigIntegerField()
    brand_id = models.BigIntegerField()
    value_id = models.BigIntegerField()
    products = models.PositiveIntegerField()
    in_stock = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["category_id", "brand_id", "value_id"], name="facet_count_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category_id}/{self.brand_id}/{self.value_id}: {self.products}"


class ProductValue(models.Model):
    """An option value one of a product's active variants has: one row per product and value.

    Kept with the facet counts (``shop.services.catalogue.recount_facets_of``)
    whenever a variant or its options change. Facet counts over any set of
    products (a search's matches) count these rows, instead of every
    variant's links with ``COUNT(DISTINCT product)``: five times less work
    for a common word at 100,000 products. Whether the product is active is
    the product's: its rows stay while it is hidden.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_index=False)
    value = models.ForeignKey(AttributeValue, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "value"], name="product_value_once")
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.value_id}"
