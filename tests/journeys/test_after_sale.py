"""The after-sale journey in Chromium: paid, shipped, delivered, reviewed.

Two browser contexts share one live server: the shopper's (JavaScript on,
and once off) and a staff member's in the admin at ``/staff/`` (JavaScript
on). The shopper pays through the Daraja simulator as in test_checkout.py;
staff hand the parcel to a courier and mark it delivered from the order's
admin page; the shopper follows the order's timeline, reviews what was
delivered, and sees the review once staff approve it. The emails the task
worker sends on the way are read from the locmem outbox.
"""

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from accounts.models import Address
from payments.tests.simulators import RunningSimulator
from shop.models import Order, OrderEvent, Product, Review, Shipment

from . import test_checkout
from .axe import expect_accessible
from .test_checkout import (
    NAIROBI_FEE,
    affordable_variant,
    expect_check_your_phone,
    expect_paid,
    expect_summary,
    fill_cart,
    pay,
    wait_for_result,
)
from .test_shopping import PASSWORD, make_user, sign_in

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]

STAFF_EMAIL = "wanjiku.staff@example.com"
STAFF_PASSWORD = "Cedar-Lantern-Baobab-19"
COURIER = Shipment.Courier.G4S
TRACKING = "G4S-NBO-70412"
REVIEW_TITLE = "Works as promised"
REVIEW_BODY = "Arrived two days after I paid, well packed, and it works perfectly."

#: The checkout journeys' Daraja simulator, calling the live shop back.
daraja = test_checkout.daraja


# Fixtures -----------------------------------------------------------------


@pytest.fixture
def staff(browser: Browser, browser_context_args) -> Iterator[tuple[Page, list[str]]]:
    """A superuser signed in to the admin in a context of their own; (page, JS errors)."""
    get_user_model().objects.create_superuser(
        username=STAFF_EMAIL, email=STAFF_EMAIL, password=STAFF_PASSWORD
    )
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(reverse("admin:login"))
    page.locator("input[name=username]").fill(STAFF_EMAIL)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text("Log out")
    yield page, errors
    context.close()


@pytest.fixture
def emails_link_to_live_server(settings, live_server) -> None:
    """Make the links in emails point at the live server, so a shopper can follow them."""
    settings.SITE_URL = live_server.url


# Helpers ------------------------------------------------------------------


def make_shopper(email: str):
    """A signed-up shopper with a saved Nairobi address and an M-Pesa number."""
    user = make_user(email)
    user.first_name = "Achieng"
    user.phone = "254708374149"
    user.save(update_fields=["first_name", "phone"])
    Address.objects.create(
        user=user,
        recipient_name="Achieng Otieno",
        phone="254712345678",
        county=47,  # Nairobi
        town="Kilimani",
        street="Argwings Kodhek Road",
        is_default=True,
    )
    return user


def timeline(page: Page):
    return page.get_by_test_id("timeline")


def expect_current_step(page: Page, status: str, done: list[str]) -> None:
    """The timeline's current step is *status*, and exactly the *done* steps are done."""
    steps = timeline(page).locator("li")
    expect(timeline(page).locator("li[aria-current=step]")).to_have_count(1)
    expect(timeline(page).locator("li[aria-current=step]")).to_have_attribute("data-status", status)
    expect(timeline(page).locator("li[data-done=true]")).to_have_count(len(done))
    shown = steps.evaluate_all(
        "els => els.filter(e => e.dataset.done === 'true').map(e => e.dataset.status)"
    )
    assert shown == done, shown


def open_order_page(page: Page, order: Order) -> None:
    page.goto(order.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")


def run_worker() -> None:
    """Run the queued tasks (emails among them) as the task worker does."""
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def email_with_subject(subject: str):
    found = [message for message in mail.outbox if message.subject == subject]
    assert len(found) == 1, [message.subject for message in mail.outbox]
    return found[0]


def staff_runs_order_action(staff: Page, order: Order, action: str, fill=None) -> None:
    """On the order's admin page, fill (with *fill*) and submit the *action* form."""
    staff.goto(reverse("admin:shop_order_change", args=[order.pk]))
    form = staff.locator(f"#order-actions form[data-action={action}]")
    expect(form).to_be_visible()
    if fill is not None:
        fill(form)
    with staff.expect_navigation():
        form.locator("input[type=submit]").click()


def expect_admin_message(staff: Page, text: str) -> None:
    expect(staff.locator("ul.messagelist")).to_contain_text(text)


# The journey --------------------------------------------------------------


def shopper_pays(shopper: Page, daraja: RunningSimulator, *, js: bool, email: str) -> Order:
    """The signed-in shopper pays for one item and opens the order's page."""
    user = make_shopper(email)
    variant = affordable_variant()
    sign_in(shopper, email, PASSWORD)
    fill_cart(shopper, variant, js=js)
    total = expect_summary(shopper, county="Nairobi", fee=NAIROBI_FEE, subtotal=variant.price)
    order = pay(shopper)
    expect_check_your_phone(shopper)
    wait_for_result(shopper, "paid", js=js)
    expect_paid(shopper, order, daraja, total=total)
    assert order.user == user

    shopper.get_by_test_id("follow-order").click()
    expect(shopper).to_have_url(re.compile(rf"{re.escape(order.get_absolute_url())}$"))
    expect(shopper.get_by_test_id("order-status")).to_have_text("Paid")
    expect_current_step(shopper, Order.Status.PAID, ["awaiting_payment", "paid"])
    expect(shopper.get_by_test_id("shipment")).to_have_count(0)
    expect(shopper.get_by_role("link", name="Review this product")).to_have_count(0)
    expect_accessible(shopper, "order page, paid")

    shopper.goto(reverse("shop:order-list"))
    rows = shopper.get_by_test_id("order-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(order.number)
    expect(rows).to_contain_text("Paid")
    expect_accessible(shopper, "order list")
    return order


def staff_ships(staff: Page, shopper: Page, order: Order, staff_user) -> None:
    def hand_over(form):
        form.locator("[name=ship-courier]").select_option(COURIER)
        form.locator("[name=ship-tracking_number]").fill(TRACKING)

    staff_runs_order_action(staff, order, "ship", hand_over)
    expect_admin_message(staff, f"Hand to courier: done. Order {order.number} is shipped.")
    # Shipped orders are tracked or delivered now, not shipped again.
    actions = staff.locator("#order-actions form").evaluate_all(
        "forms => forms.map(f => f.dataset.action)"
    )
    assert actions == ["track", "deliver"], actions

    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    shipment = order.shipments.get()
    assert (shipment.courier, shipment.tracking_number) == (COURIER, TRACKING)
    assert list(
        order.events.filter(to_status__in=["packed", "shipped"]).values_list("to_status", "actor")
    ) == [("packed", staff_user.pk), ("shipped", staff_user.pk)]

    open_order_page(shopper, order)
    expect(shopper.get_by_test_id("order-status")).to_have_text("Shipped")
    expect_current_step(
        shopper, Order.Status.SHIPPED, ["awaiting_payment", "paid", "packed", "shipped"]
    )
    shipped_step = timeline(shopper).locator("li[data-status=shipped]")
    expect(shipped_step).to_contain_text(f"G4S Courier {TRACKING}")
    parcel = shopper.get_by_test_id("shipment")
    expect(parcel).to_have_count(1)
    expect(parcel).to_contain_text("G4S Courier")
    expect(parcel.get_by_test_id("tracking-number")).to_have_text(TRACKING)
    expect(parcel).to_contain_text("Handed to the courier")
    expect(shopper.get_by_role("link", name="Review this product")).to_have_count(0)

    run_worker()
    shipped = email_with_subject(f"Your order {order.number} is on its way")
    assert shipped.to == [order.email]
    assert f"Tracking number: {TRACKING}" in shipped.body
    assert "G4S Courier" in shipped.body


def staff_delivers(staff: Page, shopper: Page, order: Order, staff_user) -> str:
    """Staff mark the parcel delivered; return the review link from the email."""
    staff_runs_order_action(
        staff, order, "deliver", lambda form: form.locator("[name=deliver-note]").fill("Signed")
    )
    expect_admin_message(staff, f"Mark delivered: done. Order {order.number} is delivered.")
    expect(staff.locator("#order-actions")).to_have_count(0)  # nothing left to do

    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert order.shipments.get().status == Shipment.Status.DELIVERED
    delivered = order.events.get(to_status=Order.Status.DELIVERED)
    assert (delivered.actor, delivered.note) == (staff_user, "Signed")
    # Every step after the payment was the staff member's doing.
    after_payment = OrderEvent.objects.filter(order=order).exclude(
        to_status__in=["awaiting_payment", "paid"]
    )
    assert {event.actor for event in after_payment} == {staff_user}

    open_order_page(shopper, order)
    expect(shopper.get_by_test_id("order-status")).to_have_text("Delivered")
    expect_current_step(
        shopper,
        Order.Status.DELIVERED,
        ["awaiting_payment", "paid", "packed", "shipped", "delivered"],
    )
    expect(timeline(shopper).locator("li[data-status=out_for_delivery]")).to_have_count(0)
    expect(shopper.get_by_test_id("tracking-number")).to_have_text(TRACKING)
    expect(shopper.get_by_test_id("shipment")).to_contain_text("Delivered: Signed")
    expect_accessible(shopper, "order page, delivered")

    run_worker()
    email = email_with_subject(f"Your order {order.number} was delivered")
    product = order.lines.get().variant.product
    reviews_url = reverse("shop:product-reviews", kwargs={"slug": product.slug})
    expect(shopper.get_by_role("link", name="Review this product")).to_have_attribute(
        "href", f"{reviews_url}#write-review"
    )
    [link] = re.findall(r"https?://\S+#write-review", email.body)
    assert link == f"{settings.SITE_URL}{reviews_url}#write-review"
    return link


def shopper_reviews(shopper: Page, order: Order, email_link: str, *, from_email: bool) -> Review:
    """Follow a review link (the order page's, or the email's) and post a review."""
    product = order.lines.get().variant.product
    if from_email:
        shopper.goto(email_link)
    else:
        shopper.get_by_role("link", name="Review this product").click()
    expect(shopper).to_have_url(
        re.compile(
            re.escape(reverse("shop:product-reviews", kwargs={"slug": product.slug}))
            + "#write-review$"
        )
    )
    expect(shopper.get_by_role("heading", level=1)).to_have_text(f"Reviews of {product.name}")
    expect(shopper.get_by_test_id("review")).to_have_count(0)
    expect(shopper.get_by_test_id("rating-summary")).to_have_text("No reviews yet.")
    form = shopper.locator("#write-review")
    expect(form).to_be_visible()
    expect(form).to_contain_text("verified purchase")
    expect_accessible(shopper, "write a review")

    form.get_by_label("5★").check()
    form.get_by_label("Title").fill(REVIEW_TITLE)
    form.get_by_label("Your review").fill(REVIEW_BODY)
    with shopper.expect_navigation():
        shopper.get_by_test_id("submit-review").click()
    expect(shopper.locator("#messages")).to_contain_text(
        "Thank you! Your review appears once our team has read it."
    )
    # Not shown before approval, and not offered again.
    expect(shopper.get_by_test_id("review")).to_have_count(0)
    expect(shopper.locator("#write-review")).to_have_count(0)
    expect(shopper.get_by_test_id("rating-summary")).to_have_text("No reviews yet.")

    review = Review.objects.get(product=product)
    assert (review.user, review.rating, review.title, review.status) == (
        order.user,
        5,
        REVIEW_TITLE,
        Review.Status.PENDING,
    )
    assert review.order_line == order.lines.get()
    return review


def staff_approves(staff: Page, shopper: Page, review: Review, staff_user) -> None:
    staff.goto(reverse("admin:shop_review_changelist"))
    row = staff.locator("#result_list tbody tr").filter(has_text=REVIEW_TITLE)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Waiting for approval")
    row.locator("input[name=_selected_action]").check()
    staff.locator("select[name=action]").select_option("approve")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Go").click()
    expect_admin_message(staff, "1 review(s) approved.")
    expect(row).to_contain_text("Approved")

    review.refresh_from_db()
    assert (review.status, review.moderated_by) == (Review.Status.APPROVED, staff_user)
    product = Product.objects.get(pk=review.product_id)
    assert (product.rating_count, product.rating_average) == (1, 5)

    shopper.reload()
    shown = shopper.get_by_test_id("review")
    expect(shown).to_have_count(1)
    expect(shown).to_contain_text(REVIEW_TITLE)
    expect(shown).to_contain_text(REVIEW_BODY)
    expect(shown).to_contain_text("Achieng")
    expect(shown).to_contain_text("Verified purchase")
    expect(shopper.get_by_test_id("rating-summary")).to_contain_text("5.0 out of 5 from 1 review")
    expect(shopper.locator("#write-review")).to_have_count(0)
    expect_accessible(shopper, "review approved")


def after_sale(shopper: Page, staff: Page, daraja: RunningSimulator, *, js: bool) -> None:
    order = shopper_pays(
        shopper, daraja, js=js, email=f"achieng.{'js' if js else 'nojs'}@example.com"
    )
    staff_user = get_user_model().objects.get(email=STAFF_EMAIL)
    staff_ships(staff, shopper, order, staff_user)
    email_link = staff_delivers(staff, shopper, order, staff_user)
    review = shopper_reviews(shopper, order, email_link, from_email=not js)
    staff_approves(staff, shopper, review, staff_user)


def test_with_javascript_shopper_follows_the_order_from_payment_to_an_approved_review(
    page: Page,
    page_errors: list[str],
    staff: tuple[Page, list[str]],
    daraja: RunningSimulator,
    emails_link_to_live_server,
):
    staff_page, staff_errors = staff
    after_sale(page, staff_page, daraja, js=True)
    assert page_errors == []
    assert staff_errors == []


def test_without_javascript_shopper_follows_the_order_from_payment_to_an_approved_review(
    page_without_js: Page,
    staff: tuple[Page, list[str]],
    daraja: RunningSimulator,
    emails_link_to_live_server,
):
    staff_page, staff_errors = staff
    after_sale(page_without_js, staff_page, daraja, js=False)
    assert staff_errors == []
