"""Staff edits never break stock or the columns services keep.

Stock on hand changes (variant page, the variant inline on the product page,
the variant list, the import) go through ``shop.services.stock``; below the
units held by orders is a form error, never a 500; and an admin save writes
only what the staff changed, so an allocation made meanwhile is kept.
"""

import threading
from decimal import Decimal

import pytest
import tablib
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.forms import CheckboxInput, MultiWidget
from django.test import RequestFactory
from django.urls import reverse

from shop import admin as shop_admin
from shop.models import Product, ProductVariant
from shop.resources import VariantResource
from shop.services import stock
from shop.tests.factories import make_product
from shop.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db

HELD = "units are held by unpaid or unshipped orders; on hand can&#x27;t go below that."


@pytest.fixture
def variant():
    product = make_product(name="Galaxy A15", prices=("20000",), stock=20, image=False)
    variant = product.variants.get()
    ProductVariant.objects.filter(pk=variant.pk).update(stock_allocated=12)
    variant.refresh_from_db()
    return variant


@pytest.fixture
def stock_calls(monkeypatch):
    """Record every call of the stock service made by the admin."""
    calls = []
    real = stock.set_stock_on_hand

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(shop_admin, "set_stock_on_hand", spy)
    return calls


def post_data(*forms) -> dict:
    """Return the POST data that submits *forms* (bound or not) as they stand."""
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            widget = field.field.widget
            if isinstance(widget, MultiWidget):
                for index, part in enumerate(widget.decompress(value)):
                    data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
            elif isinstance(widget, CheckboxInput):
                if value:
                    data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(v) for v in value]
            elif value is not None:
                data[field.html_name] = str(value)
    return data


def change_page_data(response) -> dict:
    """Return the POST data of an admin change page as it was served."""
    context = response.context
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    return post_data(*forms)


def variant_url(variant) -> str:
    return reverse("admin:shop_productvariant_change", args=[variant.pk])


def product_url(product) -> str:
    return reverse("admin:shop_product_change", args=[product.pk])


def allocate(variant, units: int) -> None:
    """Allocate *units* as an order does: F() on the stored row."""
    ProductVariant.objects.filter(pk=variant.pk).update(
        stock_allocated=F("stock_allocated") + units
    )


# The service -----------------------------------------------------------------


def test_set_stock_on_hand_writes_only_stock_on_hand(variant):
    stale = ProductVariant.objects.get(pk=variant.pk)
    ProductVariant.objects.filter(pk=variant.pk).update(price=Decimal("1"), stock_allocated=13)

    stored = stock.set_stock_on_hand(variant_id=stale.pk, on_hand=30)

    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated, variant.price) == (30, 13, 1)
    assert (stored.stock_on_hand, stored.stock_allocated) == (30, 13)


def test_set_stock_on_hand_refuses_less_than_orders_hold(variant):
    with pytest.raises(stock.StockBelowAllocated) as refused:
        stock.set_stock_on_hand(variant_id=variant.pk, on_hand=11)
    assert refused.value.message == (
        "12 units are held by unpaid or unshipped orders; on hand can't go below that."
    )
    assert stock.set_stock_on_hand(variant_id=variant.pk, on_hand=12).stock_on_hand == 12


@pytest.mark.parametrize("on_hand", [-1, 2.5, "7", True])
def test_set_stock_on_hand_takes_whole_units_only(variant, on_hand):
    with pytest.raises(stock.InvalidStockCount):
        stock.set_stock_on_hand(variant_id=variant.pk, on_hand=on_hand)
    variant.refresh_from_db()
    assert variant.stock_on_hand == 20


# The variant's page ----------------------------------------------------------


def test_stock_below_allocated_is_a_form_error_on_the_variant_page(admin_client, variant):
    page = admin_client.get(variant_url(variant))
    data = change_page_data(page) | {"stock_on_hand": "5", "price": "19000"}

    response = admin_client.post(variant_url(variant), data)

    assert response.status_code == 200
    assert "12 " + HELD in response.content.decode()
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated, variant.price) == (20, 12, 20000)


def test_the_check_uses_the_allocation_made_after_the_page_was_loaded(admin_client, variant):
    page = admin_client.get(variant_url(variant))
    allocate(variant, 3)  # an order is placed while the page is open

    response = admin_client.post(
        variant_url(variant), change_page_data(page) | {"stock_on_hand": "14"}
    )

    assert response.status_code == 200
    assert "15 " + HELD in response.content.decode()
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (20, 15)


def test_negative_stock_on_hand_is_a_form_error(admin_client, variant):
    page = admin_client.get(variant_url(variant))
    response = admin_client.post(
        variant_url(variant), change_page_data(page) | {"stock_on_hand": "-3"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["stock_on_hand"]
    variant.refresh_from_db()
    assert variant.stock_on_hand == 20


def test_a_stock_count_on_the_variant_page_goes_through_the_service(
    admin_client, variant, stock_calls, admin_user
):
    page = admin_client.get(variant_url(variant))
    response = admin_client.post(
        variant_url(variant), change_page_data(page) | {"stock_on_hand": "25"}
    )

    assert response.status_code == 302
    assert stock_calls == [{"variant_id": variant.pk, "on_hand": 25, "actor": admin_user}]
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (25, 12)


def test_a_price_change_keeps_an_allocation_made_while_the_page_was_open(
    admin_client, variant, stock_calls
):
    page = admin_client.get(variant_url(variant))
    allocate(variant, 2)

    response = admin_client.post(variant_url(variant), change_page_data(page) | {"price": "18500"})

    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.price, variant.stock_on_hand, variant.stock_allocated) == (18500, 20, 14)
    assert stock_calls == []  # stock on hand was not touched
    assert Product.objects.get(pk=variant.product_id).price == 18500  # "price from" follows


def test_a_price_change_keeps_an_allocation_made_during_the_save(
    admin_client, variant, monkeypatch
):
    """The row the admin read goes stale before it saves: the allocation survives."""
    real_save_form = shop_admin.ProductVariantAdmin.save_form

    def allocate_meanwhile(self, request, form, change):
        allocate(variant, 2)
        return real_save_form(self, request, form, change)

    monkeypatch.setattr(shop_admin.ProductVariantAdmin, "save_form", allocate_meanwhile)
    page = admin_client.get(variant_url(variant))
    data = change_page_data(page) | {"price": "18500", "stock_on_hand": "30"}

    response = admin_client.post(variant_url(variant), data)

    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.price, variant.stock_on_hand, variant.stock_allocated) == (18500, 30, 14)


# The product's page (variant inline) -----------------------------------------


def inline_prefix(page) -> str:
    for inline in page.context["inline_admin_formsets"]:
        if inline.formset.model is ProductVariant:
            return inline.formset.prefix
    raise AssertionError("no variant inline")


def test_stock_below_allocated_is_a_form_error_in_the_product_inline(admin_client, variant):
    product = variant.product
    page = admin_client.get(product_url(product))
    prefix = inline_prefix(page)
    data = change_page_data(page) | {f"{prefix}-0-stock_on_hand": "3", "name": "Renamed"}

    response = admin_client.post(product_url(product), data)

    assert response.status_code == 200
    assert "12 " + HELD in response.content.decode()
    variant.refresh_from_db()
    product.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated, product.name) == (20, 12, "Galaxy A15")


def test_the_product_inline_counts_stock_through_the_service_and_keeps_allocations(
    admin_client, variant, stock_calls, admin_user
):
    product = variant.product
    page = admin_client.get(product_url(product))
    allocate(variant, 1)
    prefix = inline_prefix(page)
    data = change_page_data(page) | {
        f"{prefix}-0-stock_on_hand": "40",
        f"{prefix}-0-price": "19999",
    }

    response = admin_client.post(product_url(product), data)

    assert response.status_code == 302
    assert stock_calls == [{"variant_id": variant.pk, "on_hand": 40, "actor": admin_user}]
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated, variant.price) == (40, 13, 19999)


def test_a_product_save_never_writes_back_the_columns_services_keep(
    admin_client, variant, monkeypatch
):
    product = variant.product
    real_save_form = shop_admin.ProductAdmin.save_form

    def sell_and_review_meanwhile(self, request, form, change):
        Product.objects.filter(pk=product.pk).update(
            units_sold=F("units_sold") + 4, rating_average=Decimal("4.50"), rating_count=2
        )
        allocate(variant, 1)
        return real_save_form(self, request, form, change)

    monkeypatch.setattr(shop_admin.ProductAdmin, "save_form", sell_and_review_meanwhile)
    page = admin_client.get(product_url(product))
    prefix = inline_prefix(page)
    data = change_page_data(page) | {"summary": "New summary", f"{prefix}-0-price": "21000"}

    response = admin_client.post(product_url(product), data)

    assert response.status_code == 302
    product.refresh_from_db()
    variant.refresh_from_db()
    assert (product.units_sold, product.rating_average, product.rating_count) == (4, 4.5, 2)
    assert product.summary == "New summary"
    assert "new summary" in product.search_text  # kept by refresh_product_summaries
    assert product.price == 21000
    assert variant.stock_allocated == 13


def test_adding_a_product_with_a_variant_in_the_inline_still_works(admin_client, variant):
    add = reverse("admin:shop_product_add")
    page = admin_client.get(add)
    prefix = inline_prefix(page)
    data = change_page_data(page) | {
        "name": "Redmi 13",
        "slug": "redmi-13",
        "brand": str(variant.product.brand_id),
        "category": str(variant.product.category_id),
        "is_active": "on",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-sku": "REDMI-13",
        f"{prefix}-0-price": "15000",
        f"{prefix}-0-stock_on_hand": "6",
        f"{prefix}-0-low_stock_threshold": "3",
        f"{prefix}-0-sort_order": "0",
        f"{prefix}-0-is_active": "on",
    }

    response = admin_client.post(add, data)

    assert response.status_code == 302, response.context["errors"]
    added = ProductVariant.objects.get(sku="REDMI-13")
    assert (added.stock_on_hand, added.stock_allocated, added.product.price) == (6, 0, 15000)


# The variant list (list_editable) ---------------------------------------------


def list_data(page, **changes) -> dict:
    formset = page.context["cl"].formset
    data = post_data(formset.management_form, *formset.forms) | {"_save": "Save"}
    return data | changes


def test_stock_below_allocated_is_a_form_error_in_the_variant_list(admin_client, variant):
    url = reverse("admin:shop_productvariant_changelist")
    page = admin_client.get(url)

    response = admin_client.post(url, list_data(page, **{"form-0-stock_on_hand": "2"}))

    assert response.status_code == 200
    assert "12 " + HELD in response.content.decode()
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (20, 12)


def test_the_variant_list_counts_stock_through_the_service_and_keeps_allocations(
    admin_client, variant, stock_calls, monkeypatch
):
    url = reverse("admin:shop_productvariant_changelist")
    real_save_form = shop_admin.ProductVariantAdmin.save_form

    def allocate_meanwhile(self, request, form, change):
        allocate(variant, 2)
        return real_save_form(self, request, form, change)

    monkeypatch.setattr(shop_admin.ProductVariantAdmin, "save_form", allocate_meanwhile)
    page = admin_client.get(url)
    data = list_data(page, **{"form-0-stock_on_hand": "33", "form-0-price": "20500"})

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert [call["on_hand"] for call in stock_calls] == [33]
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated, variant.price) == (33, 14, 20500)


def test_a_product_list_edit_never_writes_back_the_columns_services_keep(
    admin_client, variant, monkeypatch
):
    product = variant.product
    url = reverse("admin:shop_product_changelist")
    real_save_form = shop_admin.ProductAdmin.save_form

    def change_meanwhile(self, request, form, change):
        Product.objects.filter(pk=product.pk).update(
            units_sold=7, rating_average=Decimal("3.00"), rating_count=1, search_text="meanwhile"
        )
        return real_save_form(self, request, form, change)

    monkeypatch.setattr(shop_admin.ProductAdmin, "save_form", change_meanwhile)
    page = admin_client.get(url)

    response = admin_client.post(url, list_data(page, **{"form-0-is_featured": "on"}))

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.is_featured
    assert (product.units_sold, product.rating_average, product.rating_count) == (7, 3, 1)
    assert "galaxy a15" in product.search_text  # recomputed by the service, not written back


# No form can write a column a service keeps ------------------------------------

SERVICE_COLUMNS = {
    Product: {"units_sold", "rating_average", "rating_count", "search_text", "price"},
    ProductVariant: {"stock_allocated"},
}


@pytest.mark.parametrize("model", [Product, ProductVariant])
def test_no_admin_form_has_a_column_a_service_keeps(model, variant, admin_user):
    request = RequestFactory().get("/")
    request.user = admin_user
    model_admin = admin.site._registry[model]
    forms = [
        model_admin.get_form(request, None),
        model_admin.get_form(request, variant if model is ProductVariant else variant.product),
    ]
    if model_admin.list_editable:
        forms.append(model_admin.get_changelist_formset(request).form)
    for inline in model_admin.get_inline_instances(request, variant.product):
        forms.append(inline.get_formset(request, variant.product).form)
    for form in forms:
        owned = SERVICE_COLUMNS.get(form._meta.model, set())
        assert not owned & set(form.base_fields), form._meta.model


# The import ----------------------------------------------------------------


def test_the_stock_import_counts_stock_through_the_service(variant, monkeypatch):
    calls = []
    real = stock.set_stock_on_hand

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(stock, "set_stock_on_hand", spy)
    dataset = tablib.Dataset(
        [variant.sku, "20000", "", "15"],
        headers=["SKU", "Price (KES)", "Compare-at price (KES)", "Stock on hand"],
    )

    result = VariantResource().import_data(dataset, dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    assert calls == [{"variant_id": variant.pk, "on_hand": 15}]
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (15, 12)


def test_the_stock_import_refuses_a_count_below_what_orders_hold(variant):
    dataset = tablib.Dataset(
        [variant.sku, "20000", "", "11"],
        headers=["SKU", "Price (KES)", "Compare-at price (KES)", "Stock on hand"],
    )

    result = VariantResource().import_data(dataset, dry_run=False)

    assert result.has_validation_errors()
    [row] = result.invalid_rows
    assert "12 units are held by unpaid or unshipped orders" in str(row.error_dict)
    variant.refresh_from_db()
    assert variant.stock_on_hand == 20


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_the_check_locks_the_variant_until_the_transaction_ends(variant):
    """A form's check holds the row until the save, so no order slips in between."""
    checked, released = threading.Event(), threading.Event()

    def staff_save():
        with transaction.atomic():
            stock.check_stock_on_hand(variant_id=variant.pk, on_hand=12)
            checked.set()
            released.wait(5)
            return stock.set_stock_on_hand(variant_id=variant.pk, on_hand=12).stock_on_hand

    def order_allocating():
        checked.wait(5)
        try:
            with transaction.atomic():
                rows = ProductVariant.objects.select_for_update(nowait=True).filter(pk=variant.pk)
                return list(rows)
        except DatabaseError:
            return "locked"
        finally:
            released.set()

    assert run_in_threads(staff_save, order_allocating) == [12, "locked"]
