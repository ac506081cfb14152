from django import forms
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MinValueValidator
from django.db import router, transaction
from django.forms.models import BaseInlineFormSet, BaseModelFormSet

from payments.models import PaymentAttempt
from storefront import locks

from . import services
from .admin_fulfilment import FulfilmentAdminMixin, PaymentStateFilter
from .exceptions import ShopError
from .models import (
    Attribute,
    AttributeValue,
    Banner,
    Brand,
    Category,
    DeliveryZone,
    Order,
    OrderEvent,
    OrderLine,
    Page,
    Product,
    ProductImage,
    ProductSpecification,
    ProductVariant,
    Refund,
    Review,
    Shipment,
    ShipmentUpdate,
)
from .models.orders import COUNTY_CHOICES
from .models.pages import CORE_PAGES
from .queries import forget_category_tree
from .resources import (
    OrderResource,
    ProductResource,
    StaffExportMixin,
    StaffImportExportMixin,
    VariantResource,
)
from .services.stock import check_stock_on_hand, set_stock_on_hand

# Staff edits ----------------------------------------------------------------
#
# Services keep some columns (stock allocated, units sold, ratings, search
# text, "price from"). An admin save must never write those back from the
# copy of the row it read, or a change a service made meanwhile is lost: so
# edits write only the columns the staff changed, and stock on hand goes
# through shop.services.stock.


def changed_columns(form, *, owned=()) -> list[str]:
    """Return the columns *form* changed (auto_now ones too), minus *owned*."""
    opts = form._meta.model._meta
    names = []
    for name in form.changed_data:
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.concrete and not field.many_to_many and name not in owned:
            names.append(name)
    if names:
        names += [f.name for f in opts.concrete_fields if getattr(f, "auto_now", False)]
    return names


class ChangedColumnsAdmin(admin.ModelAdmin):
    """Save a changed row with ``update_fields``: only what the form changed."""

    #: Columns that services keep; never written by this admin.
    service_fields: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        columns = changed_columns(form, owned=self.service_fields)
        if columns:
            obj.save(update_fields=columns)


#: The variant columns no form writes directly: orders own the allocation,
#: and stock on hand is set through shop.services.stock.
VARIANT_SERVICE_FIELDS = ("stock_allocated", "stock_on_hand")


class VariantForm(forms.ModelForm):
    """A variant as staff edit it: stock on hand checked against the orders' hold."""

    class Meta:
        model = ProductVariant
        # Every editable column but ``stock_allocated``, which orders own.
        fields = (
            "product",
            "sku",
            "name",
            "values",
            "price",
            "compare_at_price",
            "stock_on_hand",
            "low_stock_threshold",
            "is_active",
            "sort_order",
            "created",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        on_hand = self.fields.get("stock_on_hand")
        if on_hand is not None:
            on_hand.validators.append(MinValueValidator(0))
            on_hand.widget.attrs["min"] = 0

    def clean_stock_on_hand(self):
        on_hand = self.cleaned_data["stock_on_hand"]
        if self.instance.pk is None or "stock_on_hand" not in self.changed_data:
            return on_hand
        try:
            # In the admin's transaction this locks the variant until the save.
            check_stock_on_hand(variant_id=self.instance.pk, on_hand=on_hand)
        except ShopError as problem:
            raise ValidationError(problem.message, code="stock") from None
        except ProductVariant.DoesNotExist:
            pass  # deleted meanwhile: the admin says so itself
        return on_hand


def save_variant(request, variant: ProductVariant, form, change: bool) -> None:
    """Save a variant from a staff form: changed columns, then stock on hand."""
    if not change:
        variant.save()  # a new variant: nothing is allocated to it yet
        return
    columns = changed_columns(form, owned=VARIANT_SERVICE_FIELDS)
    if columns:
        variant.save(update_fields=columns)
    if "stock_on_hand" in form.changed_data:
        stored = set_stock_on_hand(
            variant_id=variant.pk,
            on_hand=form.cleaned_data["stock_on_hand"],
            actor=request.user,
        )
        variant.stock_on_hand, variant.stock_allocated = (
            stored.stock_on_hand,
            stored.stock_allocated,
        )


class LockVariantsFirst:
    """Lock a formset's variants in primary-key order before its forms check them.

    Each form locks its own variant while validating (VariantForm); taking
    them all first, in the order ``storefront.locks`` always uses, keeps a
    many-row staff edit from deadlocking with an order locking the same rows.
    """

    def variant_ids(self) -> list[int]:
        raise NotImplementedError

    def full_clean(self):
        if self.is_bound and transaction.get_connection().in_atomic_block:
            ids = self.variant_ids()
            if ids:
                locks.lock_variants(ids)
        super().full_clean()


class VariantInlineFormSet(LockVariantsFirst, BaseInlineFormSet):
    def variant_ids(self):
        if self.instance.pk is None:
            return []
        return list(
            ProductVariant.objects.filter(product=self.instance).values_list("pk", flat=True)
        )


class VariantListFormSet(LockVariantsFirst, BaseModelFormSet):
    def variant_ids(self):
        return [variant.pk for variant in self.get_queryset()]


@admin.register(Category)
class CategoryAdmin(ChangedColumnsAdmin):
    list_display = ("name", "parent", "slug", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active", "parent")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_category_tree()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        forget_category_tree()


@admin.register(Brand)
class BrandAdmin(ChangedColumnsAdmin):
    list_display = ("name", "slug", "is_featured")
    list_editable = ("is_featured",)
    list_filter = ("is_featured",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


class AttributeValueInline(admin.TabularInline):
    model = AttributeValue
    extra = 1
    prepopulated_fields = {"slug": ("value",)}


@admin.register(Attribute)
class AttributeAdmin(ChangedColumnsAdmin):
    list_display = ("name", "slug", "sort_order")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)
    inlines = [AttributeValueInline]


@admin.register(AttributeValue)
class AttributeValueAdmin(ChangedColumnsAdmin):
    list_display = ("value", "attribute", "slug", "sort_order")
    list_filter = ("attribute",)
    search_fields = ("value", "attribute__name")


class VariantInline(admin.TabularInline):
    model = ProductVariant
    form = VariantForm
    formset = VariantInlineFormSet
    extra = 0
    fields = (
        "sku",
        "name",
        "values",
        "price",
        "compare_at_price",
        "stock_on_hand",
        "stock_allocated",
        "low_stock_threshold",
        "is_active",
        "sort_order",
    )
    readonly_fields = ("stock_allocated",)
    autocomplete_fields = ("values",)


class ImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ("image", "alt", "variant", "is_primary", "sort_order")


class SpecificationInline(admin.TabularInline):
    model = ProductSpecification
    extra = 0


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "Out of stock"), ("low", "Low stock")]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.sold_out()
        if self.value() == "low":
            return queryset.low_stock()
        return queryset


@admin.register(Product)
class ProductAdmin(StaffExportMixin, ChangedColumnsAdmin):
    resource_classes = [ProductResource]
    list_display = (
        "name",
        "brand",
        "category",
        "price",
        "is_active",
        "is_featured",
        "is_new",
        "is_hot",
        "created",
    )
    list_editable = ("is_active", "is_featured", "is_new", "is_hot")
    list_filter = ("is_active", "is_featured", "is_new", "is_hot", "brand", "category")
    list_select_related = ("brand", "category")
    search_fields = ("name", "slug", "variants__sku", "brand__name")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("brand", "category")
    readonly_fields = (
        "price",
        "compare_at_price",
        "units_sold",
        "rating_average",
        "rating_count",
        "created",
        "updated",
    )
    service_fields = (
        "price",
        "compare_at_price",
        "units_sold",
        "rating_average",
        "rating_count",
        "search_text",
    )
    inlines = [VariantInline, ImageInline, SpecificationInline]
    date_hierarchy = "created"

    def save_formset(self, request, form, formset, change):
        if formset.model is not ProductVariant:
            super().save_formset(request, form, formset, change)
            return
        forms_by_variant = {id(f.instance): f for f in formset.forms}
        formset.save(commit=False)
        for variant in formset.deleted_objects:
            formset.delete_existing(variant)
        for variant in formset.new_objects:
            save_variant(request, variant, forms_by_variant[id(variant)], change=False)
        for variant, _changed in formset.changed_objects:
            save_variant(request, variant, forms_by_variant[id(variant)], change=True)
        formset.save_m2m()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.refresh_product_summaries(product_ids=[form.instance.pk])


@admin.register(ProductVariant)
class ProductVariantAdmin(StaffImportExportMixin, admin.ModelAdmin):
    resource_classes = [VariantResource]
    form = VariantForm
    list_display = (
        "sku",
        "product",
        "name",
        "price",
        "stock_on_hand",
        "stock_allocated",
        "available",
        "is_active",
    )
    list_editable = ("price", "stock_on_hand", "is_active")
    list_filter = (LowStockFilter, "is_active", "product__brand", "product__category")
    list_select_related = ("product",)
    search_fields = ("sku", "name", "product__name")
    autocomplete_fields = ("product", "values")
    readonly_fields = ("stock_allocated",)

    @admin.display(description="available")
    def available(self, obj):
        return obj.stock_available

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", VariantForm)
        return super().get_changelist_form(request, **kwargs)

    def get_changelist_formset(self, request, **kwargs):
        kwargs.setdefault("formset", VariantListFormSet)
        return super().get_changelist_formset(request, **kwargs)

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and "_save" in request.POST:
            # The list's stock checks lock their variants until the save.
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().changelist_view(request, extra_context)
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        save_variant(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.refresh_product_summaries(product_ids=[form.instance.product_id])


@admin.register(Banner)
class BannerAdmin(ChangedColumnsAdmin):
    list_display = ("title", "placement", "is_active", "starts_at", "ends_at", "sort_order")
    list_editable = ("is_active", "sort_order")
    list_filter = ("placement", "is_active")
    search_fields = ("title", "subtitle")


class DeliveryZoneForm(forms.ModelForm):
    counties = forms.MultipleChoiceField(
        choices=COUNTY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = DeliveryZone
        fields = ["name", "counties", "fee", "free_over", "delivery_days", "is_fallback"]

    def clean_counties(self):
        counties = self.cleaned_data["counties"]
        others = DeliveryZone.objects.exclude(pk=self.instance.pk)
        taken = {c: zone.name for zone in others for c in zone.counties or []}
        clashes = [f"{c} (already in {taken[c]})" for c in counties if c in taken]
        if clashes:
            raise forms.ValidationError("A county can be in one zone only: " + ", ".join(clashes))
        return counties


@admin.register(DeliveryZone)
class DeliveryZoneAdmin(ChangedColumnsAdmin):
    form = DeliveryZoneForm
    list_display = ("name", "fee", "free_over", "delivery_days", "is_fallback", "county_list")

    @admin.display(description="counties")
    def county_list(self, obj):
        return ", ".join(obj.counties or []) or ("all others" if obj.is_fallback else "—")


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page as they are: added and changed by services."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("product_name", "variant_name", "sku", "unit_price", "quantity", "line_total")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created", "from_status", "to_status", "note", "actor")


class PaymentAttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    show_change_link = True
    fields = (
        "created",
        "phone",
        "amount",
        "status",
        "result_code",
        "result_desc",
        "receipt_number",
        "flag",
        "callbacks_received",
    )


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    show_change_link = True
    fields = ("created", "courier", "tracking_number", "status", "updated")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("created", "amount", "method", "reference", "note", "actor")


@admin.register(Order)
class OrderAdmin(FulfilmentAdminMixin, StaffExportMixin, admin.ModelAdmin):
    """Orders are read-only here: their actions call shop.services (see
    shop/admin_fulfilment.py), which enforce the rules and write the history."""

    resource_classes = [OrderResource]

    list_display = ("number", "created", "status", "total", "county", "phone", "email")
    list_filter = ("status", PaymentStateFilter, "county", "created")
    search_fields = (
        "number",
        "phone",
        "email",
        "recipient_name",
        "payment_attempts__receipt_number",
    )
    date_hierarchy = "created"
    inlines = [
        OrderLineInline,
        PaymentAttemptInline,
        ShipmentInline,
        RefundInline,
        OrderEventInline,
    ]
    readonly_fields = [f.name for f in Order._meta.fields]
    actions = ["mark_packed"]

    @admin.action(description="Mark the selected paid orders packed")
    def mark_packed(self, request, queryset):
        done, refused = 0, []
        for order in queryset.only("pk", "number"):
            try:
                services.mark_packed(order_id=order.pk, actor=request.user)
            except ShopError as problem:
                refused.append(problem.message)
            else:
                done += 1
        self.message_user(request, f"{done} order(s) marked packed.")
        for message in refused:
            self.message_user(request, message, level=messages.WARNING)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShipmentUpdateInline(ReadOnlyInline):
    model = ShipmentUpdate
    fields = ("created", "status", "note", "actor")


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Parcels; their steps are recorded from the order's page."""

    list_display = ("tracking_number", "courier", "status", "order", "created", "updated")
    list_filter = ("courier", "status", "created")
    list_select_related = ("order",)
    search_fields = ("tracking_number", "order__number")
    readonly_fields = [f.name for f in Shipment._meta.fields]
    inlines = [ShipmentUpdateInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Shoppers' reviews: staff approve or hide them, never edit their words."""

    list_display = ("title", "product", "rating", "user", "verified", "status", "created")
    list_filter = ("status", "rating", "created")
    list_select_related = ("product", "user")
    search_fields = ("title", "body", "product__name", "user__email")
    readonly_fields = [f.name for f in Review._meta.fields]
    actions = ["approve", "hide"]

    @admin.display(boolean=True, description="verified purchase")
    def verified(self, review):
        return review.verified_purchase

    def has_add_permission(self, request):
        return False

    def _moderate(self, request, queryset, status):
        ids = list(queryset.values_list("pk", flat=True))
        for review_id in ids:
            services.moderate_review(review_id=review_id, status=status, actor=request.user)
        self.message_user(request, f"{len(ids)} review(s) {status}.")

    @admin.action(description="Approve the selected reviews (show them)")
    def approve(self, request, queryset):
        self._moderate(request, queryset, Review.Status.APPROVED)

    @admin.action(description="Hide the selected reviews")
    def hide(self, request, queryset):
        self._moderate(request, queryset, Review.Status.HIDDEN)


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    """The shop's own pages; the six the footer links to keep their address."""

    list_display = ("title", "slug", "in_kiswahili", "updated")
    search_fields = ("title", "body", "title_sw", "body_sw")
    # Each Kiswahili field sits beside its English one.
    fields = (
        "slug",
        ("title", "title_sw"),
        ("summary", "summary_sw"),
        ("body", "body_sw"),
        "updated",
    )
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("updated",)

    @admin.display(boolean=True, description="Kiswahili text")
    def in_kiswahili(self, page):
        return bool(page.body_sw.strip())

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.slug in CORE_PAGES:
            return ("slug", "updated")
        return self.readonly_fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None and obj.slug in CORE_PAGES else self.prepopulated_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.slug in CORE_PAGES:
            return False
        return super().has_delete_permission(request, obj)
