"""Staff import and export (django-import-export): orders, products, variants.

Exports give spreadsheets (CSV or XLSX) with amounts in KES and times in
the shop's time zone. The one import is ``VariantResource``: a price and
stock update of existing variants, matched by SKU, previewed before it is
applied. It changes a variant's price, compare-at price and stock on hand
only; it never creates a product or variant and never touches the stock
allocated to orders. A file with any bad row changes nothing.
"""

import numbers
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from import_export import fields, resources, widgets
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.formats import base_formats
from import_export.instance_loaders import CachedInstanceLoader

from payments.models import PaymentAttempt
from storefront import locks

from . import services
from .exceptions import ShopError
from .fragments import catalogue_changed
from .models import Order, OrderLine, Product, ProductVariant
from .services import stock

# Widgets ------------------------------------------------------------------


def _as_text(value) -> str:
    return str(value).strip() if value is not None else ""


class KesWidget(widgets.DecimalWidget):
    """A KES amount: digits with at most two decimals, never negative.

    Accepts ``12999``, ``12999.50``, ``12,999`` (thousands separators) and
    spreadsheet numbers; refuses anything else with a message staff can act on.
    """

    def __init__(self, *, required: bool, label: str):
        super().__init__()
        self.required = required
        self.label = label

    def clean(self, value, row=None, **kwargs):
        text = _as_text(value)
        if text == "":
            if self.required:
                raise ValueError(f"{self.label} is empty: give an amount in KES.")
            return None
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            text = repr(value) if isinstance(value, float) else str(value)
        try:
            amount = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise ValueError(
                f"{self.label} “{text}” is not a number: write it in KES, e.g. 12999 or 12999.50."
            ) from None
        if not amount.is_finite():
            raise ValueError(f"{self.label} “{text}” is not a number.")
        if amount < 0:
            raise ValueError(f"{self.label} can't be negative ({text}).")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValueError(f"{self.label} “{text}” has more than two decimals (cents).")
        return amount.quantize(Decimal("0.01"))


class StockWidget(widgets.IntegerWidget):
    """A whole, non-negative number of units."""

    def clean(self, value, row=None, **kwargs):
        text = _as_text(value)
        if text == "":
            raise ValueError("Stock on hand is empty: give the number of units on the shelf.")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"Stock on hand “{text}” is not a number of units.") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(f"Stock on hand “{text}” must be a whole number of units.")
        if number < 0:
            raise ValueError(f"Stock on hand can't be negative ({text}).")
        return int(number)


#: Export widgets: numbers stay numbers in XLSX; times are the shop's local time.
MONEY = widgets.DecimalWidget()
UNITS = widgets.IntegerWidget()
WHEN = widgets.DateTimeWidget(format="%Y-%m-%d %H:%M")


# Catalogue ----------------------------------------------------------------

#: The variant fields an import may change besides stock on hand (which is
#: set through shop.services.stock).
PRICE_FIELDS = ("price", "compare_at_price")


class VariantResource(resources.ModelResource):
    """Variant prices and stock: export, edit in a spreadsheet, import back."""

    sku = fields.Field(attribute="sku", column_name="SKU")
    product = fields.Field(attribute="product__name", column_name="Product", readonly=True)
    option = fields.Field(attribute="name", column_name="Option", readonly=True)
    price = fields.Field(
        attribute="price",
        column_name="Price (KES)",
        widget=KesWidget(required=True, label="Price"),
    )
    compare_at_price = fields.Field(
        attribute="compare_at_price",
        column_name="Compare-at price (KES)",
        widget=KesWidget(required=False, label="Compare-at price"),
    )
    stock_on_hand = fields.Field(
        attribute="stock_on_hand", column_name="Stock on hand", widget=StockWidget()
    )
    stock_allocated = fields.Field(
        attribute="stock_allocated",
        column_name="Allocated to orders",
        readonly=True,
        widget=widgets.IntegerWidget(),
    )
    stock_available = fields.Field(
        attribute="stock_available",
        column_name="Available",
        readonly=True,
        widget=widgets.IntegerWidget(),
    )
    is_active = fields.Field(
        attribute="is_active", column_name="Active", readonly=True, widget=widgets.BooleanWidget()
    )

    class Meta:
        model = ProductVariant
        name = "Variant prices and stock (by SKU)"
        fields = (
            "sku",
            "product",
            "option",
            "price",
            "compare_at_price",
            "stock_on_hand",
            "stock_allocated",
            "stock_available",
            "is_active",
        )
        import_id_fields = ("sku",)
        instance_loader_class = CachedInstanceLoader
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        # Rows are checked by the widgets and validate_instance() below, with
        # messages about the spreadsheet rather than the model's constraints.
        clean_model_instances = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen_skus: dict[str, int] = {}
        self._changed_products: set[int] = set()

    def get_queryset(self):
        return ProductVariant.objects.select_related("product")

    def get_user_visible_fields(self):
        """Name the columns an import reads; the others are there to read only."""
        return [field for field in self.get_import_fields() if not field.readonly]

    def import_data(self, dataset, *args, **kwargs):
        """Import *dataset*; any bad row rolls the whole file back."""
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(dataset, *args, **kwargs)

    def before_import(self, dataset, **kwargs):
        self._seen_skus = {}
        self._changed_products = set()
        headers = [_as_text(header) for header in dataset.headers or []]
        sku_column = headers.index("SKU") if "SKU" in headers else None
        rows = []
        for row in dataset:
            # Spreadsheets often end in blank rows: they are not rows to import.
            if all(_as_text(cell) == "" for cell in row):
                continue
            row = list(row)
            if sku_column is not None:
                row[sku_column] = _as_text(row[sku_column])
            rows.append(row)
        dataset.wipe()
        dataset.headers = headers
        for row in rows:
            dataset.append(row)
        if not kwargs.get("dry_run") and sku_column is not None:
            # Hold the rows until the import commits, so an order placed
            # meanwhile can't allocate stock this import is about to remove.
            skus = {row[sku_column] for row in rows}
            ids = ProductVariant.objects.filter(sku__in=skus).values_list("pk", flat=True)
            locks.lock_variants(list(ids))

    def before_import_row(self, row, **kwargs):
        sku = _as_text(row.get("SKU"))
        number = kwargs.get("row_number", 0)
        if not sku:
            raise ValidationError({"sku": "The SKU is empty: every row needs the variant's SKU."})
        if sku in self._seen_skus:
            raise ValidationError(
                {
                    "sku": f"SKU {sku} is in the file twice "
                    f"(rows {self._seen_skus[sku]} and {number})."
                }
            )
        self._seen_skus[sku] = number

    def init_instance(self, row=None):
        """Refuse rows whose SKU matches no variant: imports never create any."""
        sku = _as_text((row or {}).get("SKU"))
        raise ValidationError(
            {
                "sku": f"Unknown SKU {sku}: no variant has it. An import only updates "
                "existing variants; add new products in the admin."
            }
        )

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if "stock_on_hand" not in errors:
            try:
                # The allocation as stored now (locked for a real import).
                stock.check_stock_on_hand(variant_id=instance.pk, on_hand=instance.stock_on_hand)
            except ShopError as problem:
                errors["stock_on_hand"] = ValidationError(
                    f"Stock on hand ({instance.stock_on_hand}): {problem.message}"
                )
        if errors:
            raise ValidationError(errors)

    def do_instance_save(self, instance, is_create):
        # Only the imported fields; stock on hand through the stock service,
        # which never touches the stock allocated (the orders' business).
        instance.save(update_fields=[*PRICE_FIELDS, "updated"])
        stored = stock.set_stock_on_hand(variant_id=instance.pk, on_hand=instance.stock_on_hand)
        instance.stock_allocated = stored.stock_allocated

    def after_save_instance(self, instance, row, **kwargs):
        self._changed_products.add(instance.product_id)

    def after_import(self, dataset, result, **kwargs):
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        if self._changed_products:
            # The products' "price from" follows their variants.
            services.refresh_product_summaries(product_ids=self._changed_products)
        # Cached catalogue pages must not show the old prices or stock.
        catalogue_changed()


class ProductResource(resources.ModelResource):
    """The product list, as staff see it in the admin (export only)."""

    name = fields.Field(attribute="name", column_name="Product")
    slug = fields.Field(attribute="slug", column_name="Slug")
    brand = fields.Field(attribute="brand__name", column_name="Brand")
    category = fields.Field(attribute="category__name", column_name="Category")
    price = fields.Field(attribute="price", column_name="Price from (KES)", widget=MONEY)
    compare_at_price = fields.Field(
        attribute="compare_at_price", column_name="Compare-at price from (KES)", widget=MONEY
    )
    stock = fields.Field(attribute="stock_on_hand_total", column_name="Stock on hand", widget=UNITS)
    units_sold = fields.Field(attribute="units_sold", column_name="Units sold", widget=UNITS)
    is_active = fields.Field(
        attribute="is_active", column_name="Active", widget=widgets.BooleanWidget()
    )

    class Meta:
        model = Product
        name = "Products"
        fields = (
            "name",
            "slug",
            "brand",
            "category",
            "price",
            "compare_at_price",
            "stock",
            "units_sold",
            "is_active",
        )

    def get_queryset(self):
        return Product.objects.all()

    def export(self, queryset=None, **kwargs):
        queryset = self.get_queryset() if queryset is None else queryset
        stock = (
            ProductVariant.objects.filter(product=OuterRef("pk"))
            .order_by()
            .values("product")
            .annotate(units=Sum("stock_on_hand"))
            .values("units")
        )
        queryset = queryset.select_related("brand", "category").annotate(
            stock_on_hand_total=Coalesce(Subquery(stock), 0)
        )
        return super().export(queryset=queryset, **kwargs)


# Orders -------------------------------------------------------------------


class OrderResource(resources.ModelResource):
    """Orders with their KES amounts and M-Pesa receipt (export only)."""

    number = fields.Field(attribute="number", column_name="Order")
    created = fields.Field(attribute="created", column_name="Placed", widget=WHEN)
    paid_at = fields.Field(attribute="paid_at", column_name="Paid", widget=WHEN)
    status = fields.Field(attribute="get_status_display", column_name="Status")
    email = fields.Field(attribute="email", column_name="Email")
    phone = fields.Field(attribute="phone", column_name="M-Pesa phone")
    recipient_name = fields.Field(attribute="recipient_name", column_name="Recipient")
    county = fields.Field(attribute="county", column_name="County")
    town = fields.Field(attribute="town", column_name="Town / area")
    items = fields.Field(attribute="units", column_name="Items", widget=UNITS)
    subtotal = fields.Field(attribute="subtotal", column_name="Subtotal (KES)", widget=MONEY)
    delivery_fee = fields.Field(
        attribute="delivery_fee", column_name="Delivery (KES)", widget=MONEY
    )
    total = fields.Field(attribute="total", column_name="Total (KES)", widget=MONEY)
    amount_payable = fields.Field(
        attribute="amount_payable", column_name="M-Pesa amount (KES)", widget=UNITS
    )
    receipt = fields.Field(column_name="M-Pesa receipt")

    class Meta:
        model = Order
        name = "Orders"
        fields = (
            "number",
            "created",
            "paid_at",
            "status",
            "email",
            "phone",
            "recipient_name",
            "county",
            "town",
            "items",
            "subtotal",
            "delivery_fee",
            "total",
            "amount_payable",
            "receipt",
        )

    def get_queryset(self):
        return Order.objects.all()

    def export(self, queryset=None, **kwargs):
        """Export *queryset* with its units and receipt in the same query."""
        queryset = self.get_queryset() if queryset is None else queryset
        units = (
            OrderLine.objects.filter(order=OuterRef("pk"))
            .order_by()
            .values("order")
            .annotate(units=Sum("quantity"))
            .values("units")
        )
        queryset = queryset.annotate(units=Coalesce(Subquery(units), 0))
        self._receipts = PaymentAttempt.objects.filter(order__in=queryset).receipts_by_order()
        return super().export(queryset=queryset, **kwargs)

    def dehydrate_receipt(self, order) -> str:
        """Every receipt of the order (one per part when it was paid in parts)."""
        return getattr(self, "_receipts", {}).get(order.pk, "")


# Admin glue -----------------------------------------------------------------


#: Spreadsheets only: CSV and Excel.
STAFF_FORMATS = [base_formats.CSV, base_formats.XLSX]


class StaffExportMixin(ExportMixin):
    """Export (CSV or XLSX) for staff who may view the model."""

    formats = STAFF_FORMATS

    def has_export_permission(self, request):
        return self.has_view_permission(request)


class StaffImportExportMixin(ImportExportMixin):
    """Import for staff who may change the model; export for those who may view it."""

    formats = STAFF_FORMATS

    def has_import_permission(self, request):
        return self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)
