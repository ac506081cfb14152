"""Staff export of orders and catalogue, and the price and stock import by SKU."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import tablib
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from payments.models import PaymentAttempt
from shop.fragments import catalogue_version
from shop.models import Order, Product, ProductVariant
from shop.resources import OrderResource, VariantResource
from shop.tests.factories import make_product
from shop.tests.test_staff_dashboard import make_attempt, make_order

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:shop_productvariant_import")
CONFIRM_URL = reverse("admin:shop_productvariant_process_import")
CSV_FORMAT = "0"
XLSX_FORMAT = "1"
HEADERS = ["SKU", "Price (KES)", "Compare-at price (KES)", "Stock on hand"]


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def phones():
    """Two products, three variants: A-128 and A-256 (one product), B-1."""
    a = make_product(name="Phone A", prices=("20000", "25000"), stock=10, image=False)
    b = make_product(name="Phone B", prices=("9000",), stock=4, image=False)
    a128, a256 = a.variants.order_by("price")
    ProductVariant.objects.filter(pk=a128.pk).update(sku="A-128")
    ProductVariant.objects.filter(pk=a256.pk).update(sku="A-256", stock_allocated=3)
    ProductVariant.objects.filter(pk=b.variants.get().pk).update(sku="B-1")
    return {v.sku: v for v in ProductVariant.objects.all()}


def csv_file(rows, headers=HEADERS, name="prices.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(), content_type="text/csv")


def xlsx_file(rows, headers=HEADERS) -> SimpleUploadedFile:
    data = tablib.Dataset(*rows, headers=headers)
    return SimpleUploadedFile("prices.xlsx", data.export("xlsx"))


def stock_and_prices():
    return {
        v.sku: (v.price, v.compare_at_price, v.stock_on_hand, v.stock_allocated)
        for v in ProductVariant.objects.order_by("sku")
    }


def preview(client, upload, fmt=CSV_FORMAT):
    return client.post(IMPORT_URL, {"import_file": upload, "format": fmt, "resource": "0"})


def confirm(client, page):
    form = page.context["confirm_form"]
    return client.post(CONFIRM_URL, {name: form.initial[name] for name in form.fields})


# Import ----------------------------------------------------------------------


def test_import_previews_then_changes_prices_and_stock_on_confirm(staff_client, phones):
    before = stock_and_prices()
    version_before, _ = catalogue_version()
    upload = csv_file(
        [
            ["A-128", "18,999.50", "20000", "12"],
            ["A-256", "25000", "", "3"],  # stock down to what is allocated
            ["B-1", "9000", "", "4"],  # unchanged
        ]
    )

    page = preview(staff_client, upload)

    assert page.status_code == 200
    assert page.context["result"].totals["update"] == 2
    assert page.context["result"].totals["skip"] == 1
    assert "confirm_form" in page.context
    assert stock_and_prices() == before  # a preview changes nothing

    done = confirm(staff_client, page)

    assert done.status_code == 302
    after = stock_and_prices()
    assert after["A-128"] == (Decimal("18999.50"), Decimal("20000.00"), 12, 0)
    assert after["A-256"] == (Decimal("25000.00"), None, 3, 3)
    assert after["B-1"] == before["B-1"]
    product = Product.objects.get(name="Phone A")
    assert product.price == Decimal("18999.50")  # "price from" follows its variants
    assert catalogue_version()[0] != version_before  # cached pages are stale now
    assert Product.objects.count() == 2 and ProductVariant.objects.count() == 3


def test_import_of_an_xlsx_file_updates_by_sku(staff_client, phones):
    page = preview(staff_client, xlsx_file([["B-1", 8500, None, 7]]), fmt=XLSX_FORMAT)
    assert page.context["result"].totals["update"] == 1
    confirm(staff_client, page)
    assert stock_and_prices()["B-1"][:3] == (Decimal("8500.00"), None, 7)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["A-128", "20000", "", "-1"], "Stock on hand can&#x27;t be negative"),
        (["NOPE-1", "20000", "", "5"], "Unknown SKU NOPE-1"),
        (["A-128", "twenty", "", "5"], "Price “twenty” is not a number"),
        (["A-128", "", "", "5"], "Price is empty"),
        (["A-128", "20000", "", "2.5"], "must be a whole number"),
        (["A-128", "200.005", "", "5"], "more than two decimals"),
        (["A-256", "25000", "", "2"], "3 units are held by unpaid or unshipped orders"),
        (["B-1", "9000", "", "4"], "SKU B-1 is in the file twice"),
    ],
)
def test_a_bad_row_is_refused_with_a_reason_and_nothing_changes(staff_client, phones, row, message):
    before = stock_and_prices()
    upload = csv_file([["B-1", "7000", "", "9"], row])

    page = preview(staff_client, upload)

    html = page.content.decode()
    assert page.status_code == 200
    assert message in html
    assert "confirm_form" not in page.context
    assert stock_and_prices() == before


def test_confirming_a_file_that_went_bad_since_the_preview_changes_nothing(staff_client, phones):
    """An order allocating stock between preview and confirm makes a row bad: all rolls back."""
    before = stock_and_prices()
    page = preview(staff_client, csv_file([["B-1", "7000", "", "9"], ["A-128", "1", "", "2"]]))
    assert "confirm_form" in page.context
    ProductVariant.objects.filter(sku="A-128").update(stock_allocated=5)

    confirm(staff_client, page)

    after = stock_and_prices()
    assert after["B-1"] == before["B-1"]
    assert after["A-128"][:3] == before["A-128"][:3]


def test_import_never_touches_allocated_stock_or_other_fields(phones):
    dataset = tablib.Dataset(
        ["A-256", "Renamed", "26000", "", "8", "0", "0", "no"],
        headers=[
            "SKU",
            "Option",
            "Price (KES)",
            "Compare-at price (KES)",
            "Stock on hand",
            "Allocated to orders",
            "Available",
            "Active",
        ],
    )
    variant = phones["A-256"]

    result = VariantResource().import_data(dataset, dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    variant.refresh_from_db()
    assert (variant.price, variant.stock_on_hand) == (Decimal("26000.00"), 8)
    assert variant.stock_allocated == 3
    assert variant.is_active and variant.name != "Renamed"


def test_import_saves_only_price_and_stock(phones, monkeypatch):
    """A change made to the row while the import runs (e.g. an allocation) is kept."""

    def meanwhile(self, instance, row, **kwargs):
        ProductVariant.objects.filter(pk=instance.pk).update(stock_allocated=1, name="Meanwhile")

    monkeypatch.setattr(VariantResource, "before_save_instance", meanwhile)
    dataset = tablib.Dataset(["A-128", "19000", "", "12"], headers=HEADERS)

    VariantResource().import_data(dataset, dry_run=False)

    variant = ProductVariant.objects.get(sku="A-128")
    assert (variant.price, variant.stock_on_hand) == (Decimal("19000.00"), 12)
    assert (variant.stock_allocated, variant.name) == (1, "Meanwhile")


def test_import_needs_the_change_permission(client, phones):
    clerk = get_user_model().objects.create_user("clerk", "c@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_productvariant"))
    client.force_login(clerk)
    assert client.get(IMPORT_URL).status_code == 403
    export = client.get(reverse("admin:shop_productvariant_export"))
    assert export.status_code == 200


# Export ----------------------------------------------------------------------


def _export(client, model, resource, fmt=CSV_FORMAT):
    url = reverse(f"admin:shop_{model}_export")
    form = client.get(url).context["form"]
    fields = {name: "on" for name in form.fields if name.startswith(resource.lower() + "_")}
    return client.post(url, {"format": fmt, "resource": "0", **fields})


def test_orders_export_to_csv_with_kes_amounts_and_receipts(staff_client, phones):
    paid = make_order(
        number="DTPAID0001", total="12500.50", lines=[(phones["A-128"], 2)], paid_at=timezone.now()
    )
    make_attempt(
        paid,
        status=PaymentAttempt.Status.PAID,
        receipt_number="RBK7XY12",
        completed_at=timezone.now(),
    )
    make_order(number="DTWAITING1", total="999", status=Order.Status.AWAITING_PAYMENT)

    response = _export(staff_client, "order", "OrderResource")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_number = {row["Order"]: row for row in rows}
    assert set(by_number) == {"DTPAID0001", "DTWAITING1"}
    row = by_number["DTPAID0001"]
    assert row["Total (KES)"] == "12500.50"
    assert row["M-Pesa amount (KES)"] == "12500"
    assert row["Items"] == "2"
    assert row["M-Pesa receipt"] == "RBK7XY12"
    assert row["Status"] == "Paid"
    assert by_number["DTWAITING1"]["Paid"] == ""


def test_orders_export_to_xlsx_keeps_numbers(staff_client):
    make_order(number="DTXLSX0001", total="4321.25")

    response = _export(staff_client, "order", "OrderResource", fmt=XLSX_FORMAT)

    assert response.status_code == 200
    sheet = tablib.Dataset().load(response.content, format="xlsx")
    row = dict(zip(sheet.headers, sheet[0], strict=True))
    assert row["Order"] == "DTXLSX0001"
    assert Decimal(str(row["Total (KES)"])) == Decimal("4321.25")


def test_variant_export_round_trips_through_the_import(staff_client, phones):
    exported = _export(staff_client, "productvariant", "VariantResource")
    text = exported.content.decode("utf-8-sig")
    assert "A-256" in text and "Allocated to orders" in text

    page = preview(staff_client, SimpleUploadedFile("all.csv", text.encode()))

    assert "confirm_form" in page.context
    assert page.context["result"].totals["skip"] == 3  # nothing changed


def test_products_export(staff_client, phones):
    response = _export(staff_client, "product", "ProductResource")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_name = {row["Product"]: row for row in rows}
    assert by_name["Phone A"]["Price from (KES)"] == "20000.00"
    assert by_name["Phone A"]["Stock on hand"] == "20"


def test_order_export_runs_two_queries_whatever_the_rows(django_assert_max_num_queries):
    """The rows with their units, then every receipt of those orders."""
    for n in range(20):
        make_order(number=f"DTMANY{n:04d}")
    with django_assert_max_num_queries(2):
        data = OrderResource().export(queryset=Order.objects.all())
    assert len(data) == 20


def test_an_order_paid_in_parts_exports_every_receipt():
    order = make_order(number="DTPARTS001")
    start = timezone.now()
    for i, receipt in enumerate(("RPART0001", "RPART0002")):
        make_attempt(
            order,
            status=PaymentAttempt.Status.PAID,
            counted=True,
            receipt_number=receipt,
            completed_at=start + timedelta(minutes=i),
        )
    row = OrderResource().export(queryset=Order.objects.filter(pk=order.pk)).dict[0]
    assert row["M-Pesa receipt"] == "RPART0001, RPART0002"


def test_the_import_page_names_the_columns_it_reads(staff_client):
    page = staff_client.get(IMPORT_URL)
    [(_, columns)] = page.context["fields_list"]
    assert columns == HEADERS
    choices = [label for _, label in page.context["form"].fields["format"].choices]
    assert [c.lower() for c in choices if c and c != "---"] == ["csv", "xlsx"]
