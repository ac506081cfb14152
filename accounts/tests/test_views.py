"""Account pages: overview, profile, addresses, ownership, query bounds, admin."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Address

from .factories import AddressFactory, UserFactory, image_upload

pytestmark = pytest.mark.django_db

PHONE_ERROR = "Enter a Safaricom/Airtel number like 0712 345 678."


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shopper():
    return UserFactory(email="wanjiku@example.com", first_name="Wanjiku", last_name="Kamau")


@pytest.fixture
def shopper_client(client, shopper):
    client.force_login(shopper)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def address_post(**overrides):
    data = {
        "recipient_name": "Achieng Otieno",
        "phone": "0722 000 111",
        "county": "42",
        "town": "Milimani",
        "street": "Aga Khan Road, house 12",
        "notes": "Blue gate",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("accounts:overview", []),
        ("accounts:profile", []),
        ("accounts:address-list", []),
        ("accounts:address-create", []),
        ("accounts:address-update", [1]),
        ("accounts:address-delete", [1]),
    ],
)
def test_pages_need_a_signed_in_shopper(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


def test_anonymous_make_default_post_goes_to_sign_in_and_changes_nothing(client):
    address = AddressFactory(is_default=False)
    response = client.post(reverse("accounts:address-set-default", args=[address.pk]))
    assert response.status_code == 302
    address.refresh_from_db()
    assert not address.is_default


class TestOverview:
    def test_links_profile_and_addresses_and_keeps_places_for_orders_and_wishlist(
        self, shopper_client, shopper
    ):
        AddressFactory(user=shopper, is_default=True, town="Westlands")
        response = shopper_client.get(reverse("accounts:overview"))
        html = response.content.decode()
        assert response.status_code == 200
        assert reverse("accounts:profile") in html
        assert reverse("accounts:address-list") in html
        assert "Westlands" in html
        assert 'data-slot="orders"' in html
        assert 'data-slot="wishlist"' in html
        assert "Hello, Wanjiku" in html

    def test_without_addresses_offers_to_add_one(self, shopper_client):
        response = shopper_client.get(reverse("accounts:overview"))
        assert reverse("accounts:address-create") in response.content.decode()


class TestProfile:
    def test_shows_the_current_details(self, shopper_client, shopper):
        shopper.phone = "254712345678"
        shopper.save()
        response = shopper_client.get(reverse("accounts:profile"))
        html = response.content.decode()
        assert 'value="Wanjiku"' in html
        assert 'value="0712 345 678"' in html
        assert 'enctype="multipart/form-data"' in html

    def test_saves_and_redirects_with_a_message(self, shopper_client, shopper):
        response = shopper_client.post(
            reverse("accounts:profile"),
            {"first_name": "Amina", "last_name": "Hassan", "phone": "0712 345 678"},
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:profile")
        assert messages_of(response) == ["Your profile has been saved."]
        shopper.refresh_from_db()
        assert (shopper.first_name, shopper.last_name, shopper.phone) == (
            "Amina",
            "Hassan",
            "254712345678",
        )

    def test_junk_phone_shows_the_message_and_changes_nothing(self, shopper_client, shopper):
        response = shopper_client.post(
            reverse("accounts:profile"),
            {"first_name": "Changed", "last_name": "Kamau", "phone": "0712 345 67"},
        )
        assert response.status_code == 200
        assert PHONE_ERROR in response.content.decode()
        shopper.refresh_from_db()
        assert (shopper.first_name, shopper.phone) == ("Wanjiku", "")

    def test_uploads_an_avatar_and_shows_it(self, shopper_client, shopper):
        response = shopper_client.post(
            reverse("accounts:profile"),
            {"first_name": "W", "last_name": "K", "phone": "", "avatar": image_upload("WEBP")},
        )
        assert response.status_code == 302
        shopper.refresh_from_db()
        assert shopper.avatar.name.startswith("avatars/")
        page = shopper_client.get(reverse("accounts:profile")).content.decode()
        # A small copy is shown, not the upload (up to 4000 px) shrunk by the browser.
        src = re.search(r'<img src="([^"]+)" alt="Your profile photo"', page).group(1)
        assert src.startswith("/media/cache/") and src.endswith(".webp")
        assert shopper.avatar.url not in page
        assert "Remove the current profile photo" in page

    @pytest.mark.parametrize(
        ("upload", "message"),
        [
            (
                SimpleUploadedFile("cv.png", b"%PDF-1.4 not a photo", "image/png"),
                "That file is not a photo we can read.",
            ),
            (image_upload("PNG", size=(1000, 1000), noise=True), "the limit is 2.0"),
            (image_upload("GIF"), "GIF images are not accepted."),
            (image_upload("PNG", size=(4500, 20)), "larger than 4000×4000 pixels"),
        ],
        ids=["not-an-image", "too-big", "wrong-type", "too-large"],
    )
    def test_bad_avatar_shows_a_clear_message_and_changes_nothing(
        self, shopper_client, shopper, upload, message
    ):
        response = shopper_client.post(
            reverse("accounts:profile"),
            {"first_name": "Changed", "last_name": "K", "phone": "0712345678", "avatar": upload},
        )
        assert response.status_code == 200
        assert message in response.content.decode()
        shopper.refresh_from_db()
        assert (shopper.first_name, shopper.phone, shopper.avatar.name) == ("Wanjiku", "", "")

    def test_phone_and_avatar_errors_show_together(self, shopper_client):
        response = shopper_client.post(
            reverse("accounts:profile"),
            {
                "first_name": "W",
                "last_name": "K",
                "phone": "+1 650 253 0000",
                "avatar": image_upload("GIF"),
            },
        )
        html = response.content.decode()
        assert PHONE_ERROR in html
        assert "GIF images are not accepted." in html

    def test_removes_the_avatar(self, shopper_client, shopper):
        shopper_client.post(
            reverse("accounts:profile"),
            {"first_name": "W", "last_name": "K", "phone": "", "avatar": image_upload()},
        )
        response = shopper_client.post(
            reverse("accounts:profile"),
            {"first_name": "W", "last_name": "K", "phone": "", "avatar-clear": "on"},
        )
        assert response.status_code == 302
        shopper.refresh_from_db()
        assert not shopper.avatar

    def test_only_get_and_post_are_allowed(self, shopper_client):
        assert shopper_client.put(reverse("accounts:profile")).status_code == 405


class TestAddressList:
    def test_lists_only_my_addresses_default_first(self, shopper_client, shopper):
        AddressFactory(user=shopper, recipient_name="Mine, older", is_default=False)
        AddressFactory(user=shopper, recipient_name="Mine, default", is_default=True)
        AddressFactory(recipient_name="Someone else's")
        response = shopper_client.get(reverse("accounts:address-list"))
        names = [a.recipient_name for a in response.context["addresses"]]
        assert names == ["Mine, default", "Mine, older"]
        html = response.content.decode()
        assert "Someone else" not in html
        assert "0712 345 678" in html
        assert "Nairobi County" in html

    def test_empty_list_invites_adding_one(self, shopper_client):
        response = shopper_client.get(reverse("accounts:address-list"))
        assert "no saved delivery addresses" in response.content.decode()


class TestAddressCreate:
    def test_saves_the_first_address_as_default(self, shopper_client, shopper):
        response = shopper_client.post(reverse("accounts:address-create"), address_post())
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:address-list")
        assert messages_of(response) == ["Your delivery address has been saved."]
        address = Address.objects.get(user=shopper)
        assert (address.phone, address.county, address.is_default) == ("254722000111", 42, True)

    def test_can_make_a_new_address_the_default(self, shopper_client, shopper):
        old = AddressFactory(user=shopper, is_default=True)
        shopper_client.post(reverse("accounts:address-create"), address_post(is_default="on"))
        old.refresh_from_db()
        assert not old.is_default
        assert Address.objects.get(user=shopper, is_default=True).town == "Milimani"

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"county": "48"}, "Choose your county from the list."),
            ({"county": "0"}, "Choose your county from the list."),
            ({"county": "Nairobi"}, "Choose your county from the list."),
            ({"county": ""}, "This field is required."),
            ({"phone": "0000"}, PHONE_ERROR),
            ({"phone": "+1 650 253 0000"}, PHONE_ERROR),
            ({"town": ""}, "This field is required."),
        ],
    )
    def test_bad_input_shows_a_clear_message_and_saves_nothing(
        self, shopper_client, overrides, message
    ):
        response = shopper_client.post(
            reverse("accounts:address-create"), address_post(**overrides)
        )
        assert response.status_code == 200
        assert message in response.content.decode()
        assert not Address.objects.exists()

    def test_returns_to_a_safe_next_url(self, shopper_client):
        response = shopper_client.post(
            reverse("accounts:address-create"), address_post(next="/cart/")
        )
        assert response["Location"] == "/cart/"

    def test_ignores_an_unsafe_next_url(self, shopper_client):
        response = shopper_client.post(
            reverse("accounts:address-create"), address_post(next="https://evil.example/")
        )
        assert response["Location"] == reverse("accounts:address-list")

    def test_county_select_lists_all_47_counties(self, shopper_client):
        response = shopper_client.get(reverse("accounts:address-create"))
        html = response.content.decode()
        assert html.count("<option") == 48
        assert "Murang&#x27;a" in html


class TestAddressUpdate:
    def test_form_is_filled_in(self, shopper_client, shopper):
        address = AddressFactory(user=shopper, town="Westlands")
        response = shopper_client.get(reverse("accounts:address-update", args=[address.pk]))
        assert response.context["form"].initial["town"] == "Westlands"
        assert 'value="Westlands"' in response.content.decode()

    def test_saves_changes(self, shopper_client, shopper):
        address = AddressFactory(user=shopper)
        response = shopper_client.post(
            reverse("accounts:address-update", args=[address.pk]), address_post()
        )
        assert response.status_code == 302
        assert messages_of(response) == ["Your delivery address has been updated."]
        address.refresh_from_db()
        assert (address.town, address.phone, address.county) == ("Milimani", "254722000111", 42)

    def test_tampered_county_changes_nothing(self, shopper_client, shopper):
        address = AddressFactory(user=shopper, county=47, town="Westlands")
        response = shopper_client.post(
            reverse("accounts:address-update", args=[address.pk]), address_post(county="99")
        )
        assert "Choose your county from the list." in response.content.decode()
        address.refresh_from_db()
        assert (address.county, address.town) == (47, "Westlands")


class TestAddressDeleteAndDefault:
    def test_delete_asks_for_confirmation_first(self, shopper_client, shopper):
        address = AddressFactory(user=shopper)
        response = shopper_client.get(reverse("accounts:address-delete", args=[address.pk]))
        assert response.status_code == 200
        assert "Delete this address?" in response.content.decode()
        assert Address.objects.filter(pk=address.pk).exists()

    def test_delete_on_post_promotes_another_default(self, shopper_client, shopper):
        default = AddressFactory(user=shopper, is_default=True)
        other = AddressFactory(user=shopper)
        response = shopper_client.post(reverse("accounts:address-delete", args=[default.pk]))
        assert response.status_code == 302
        assert messages_of(response) == ["The address has been deleted."]
        other.refresh_from_db()
        assert other.is_default

    def test_make_default_is_post_only(self, shopper_client, shopper):
        address = AddressFactory(user=shopper)
        url = reverse("accounts:address-set-default", args=[address.pk])
        assert shopper_client.get(url).status_code == 405

    def test_make_default(self, shopper_client, shopper):
        old = AddressFactory(user=shopper, is_default=True)
        new = AddressFactory(user=shopper, recipient_name="Baraka", town="Nyali")
        response = shopper_client.post(reverse("accounts:address-set-default", args=[new.pk]))
        assert response.status_code == 302
        assert messages_of(response) == ["Deliveries will now go to Baraka, Nyali by default."]
        old.refresh_from_db()
        new.refresh_from_db()
        assert new.is_default
        assert not old.is_default


class TestSomeoneElsesAddress:
    """Another shopper's address id is a 404 on every view, and nothing changes."""

    @pytest.mark.parametrize(
        ("method", "name"),
        [
            ("get", "accounts:address-update"),
            ("post", "accounts:address-update"),
            ("get", "accounts:address-delete"),
            ("post", "accounts:address-delete"),
            ("post", "accounts:address-set-default"),
        ],
    )
    def test_is_not_found_and_untouched(self, shopper_client, shopper, method, name):
        AddressFactory(user=shopper, is_default=True)
        theirs = AddressFactory(is_default=False, town="Their town")
        before = Address.objects.values().get(pk=theirs.pk)
        response = getattr(shopper_client, method)(
            reverse(name, args=[theirs.pk]), address_post() if method == "post" else None
        )
        assert response.status_code == 404
        assert Address.objects.values().get(pk=theirs.pk) == before

    @pytest.mark.parametrize("name", ["accounts:address-update", "accounts:address-delete"])
    def test_a_missing_id_is_a_404_too(self, shopper_client, name):
        assert shopper_client.get(reverse(name, args=[999999])).status_code == 404


class TestQueryBounds:
    """Page queries do not grow with the number of saved addresses."""

    @pytest.mark.parametrize(
        "name", ["accounts:overview", "accounts:profile", "accounts:address-list"]
    )
    def test_few_and_many_addresses_cost_the_same(
        self, shopper_client, shopper, name, django_assert_max_num_queries
    ):
        url = reverse(name)
        AddressFactory(user=shopper, is_default=True)
        shopper_client.get(url)  # warm the per-process caches
        with CaptureQueriesContext(connection) as few:
            assert shopper_client.get(url).status_code == 200
        AddressFactory.create_batch(15, user=shopper)
        with django_assert_max_num_queries(len(few)) as many:
            assert shopper_client.get(url).status_code == 200
        assert len(many) == len(few)
        assert len(few) <= 8


class TestAdmin:
    def test_address_admin_lists_searches_and_filters(self, admin_client):
        AddressFactory(recipient_name="Baraka Mwangi", county=1, user__email="baraka@example.com")
        AddressFactory(recipient_name="Achieng Otieno", county=42)
        url = reverse("admin:accounts_address_changelist")
        assert "Baraka Mwangi" in admin_client.get(url, {"q": "baraka@example"}).content.decode()
        filtered = admin_client.get(url, {"county__exact": "42"}).content.decode()
        assert "Achieng Otieno" in filtered
        assert "Baraka Mwangi" not in filtered
        by_phone = admin_client.get(url, {"q": "254712345678"})
        assert by_phone.context["cl"].result_count == 2

    def test_user_admin_shows_addresses_inline(self, admin_client):
        address = AddressFactory(recipient_name="Baraka Mwangi")
        response = admin_client.get(reverse("admin:accounts_user_change", args=[address.user.pk]))
        assert response.status_code == 200
        assert "Baraka Mwangi" in response.content.decode()

    def test_staff_can_type_a_phone_the_way_shoppers_do(self, admin_client):
        user = UserFactory()
        response = admin_client.post(
            reverse("admin:accounts_address_add"),
            {
                "user": user.pk,
                "recipient_name": "Baraka",
                "phone": "0712 345 678",
                "county": "1",
                "town": "Nyali",
                "street": "Links Road",
                "notes": "",
            },
        )
        assert response.status_code == 302
        assert Address.objects.get(user=user).phone == "254712345678"
