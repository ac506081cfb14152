"""Account services: profile details, avatars and delivery addresses."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from accounts import services
from accounts.avatars import MAX_BYTES
from accounts.models import Address, User

from .factories import AddressFactory, UserFactory, image_upload

pytestmark = pytest.mark.django_db


def address_data(**overrides):
    data = {
        "recipient_name": "Achieng Otieno",
        "phone": "0722 000 111",
        "county": 42,
        "town": "Kisumu CBD",
        "street": "Oginga Odinga Street, Mega Plaza",
        "notes": "Call on arrival",
    }
    return {**data, **overrides}


def profile_data(**overrides):
    return {"first_name": "Wanjiku", "last_name": "Kamau", "phone": "", **overrides}


def snapshot(user: User) -> dict:
    user.refresh_from_db()
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "avatar": user.avatar.name,
    }


class TestUpdateProfile:
    def test_saves_names_and_the_normalised_phone(self):
        user = UserFactory()
        services.update_profile(
            user=user, first_name=" Amina ", last_name="Hassan", phone="+254 110 123 456"
        )
        user.refresh_from_db()
        assert (user.first_name, user.last_name, user.phone) == ("Amina", "Hassan", "254110123456")

    def test_phone_may_be_left_blank(self):
        user = UserFactory(phone="254712345678")
        services.update_profile(user=user, **profile_data(phone=" "))
        user.refresh_from_db()
        assert user.phone == ""

    def test_junk_phone_is_refused_and_nothing_changes(self):
        user = UserFactory(phone="254712345678")
        before = snapshot(user)
        with pytest.raises(ValidationError) as excinfo:
            services.update_profile(user=user, first_name="X", last_name="Y", phone="0000")
        assert list(excinfo.value.message_dict) == ["phone"]
        assert snapshot(user) == before

    @pytest.mark.parametrize(
        ("fmt", "extension"), [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp")]
    )
    def test_stores_a_valid_avatar_under_a_random_name(self, fmt, extension):
        user = UserFactory()
        services.update_profile(
            user=user, **profile_data(), avatar=image_upload(fmt, name="IMG_home_gps.bin")
        )
        user.refresh_from_db()
        assert user.avatar.name.startswith("avatars/")
        assert user.avatar.name.endswith(extension)
        assert "IMG_home" not in user.avatar.name
        assert user.avatar.storage.exists(user.avatar.name)

    def test_extension_follows_the_content_not_the_file_name(self):
        user = UserFactory()
        services.update_profile(
            user=user, **profile_data(), avatar=image_upload("PNG", name="photo.jpg")
        )
        assert user.avatar.name.endswith(".png")

    @pytest.mark.parametrize(
        ("upload", "message"),
        [
            (
                SimpleUploadedFile("cv.jpg", b"%PDF-1.4 definitely not a photo", "image/jpeg"),
                "not a photo we can read",
            ),
            (SimpleUploadedFile("empty.png", b"", "image/png"), "not a photo we can read"),
            (image_upload("GIF"), "GIF images are not accepted"),
            (image_upload("BMP"), "BMP images are not accepted"),
            (image_upload("PNG", size=(1000, 1000), noise=True), "the limit is 2.0"),
            (image_upload("PNG", size=(4001, 10)), "larger than 4000×4000 pixels"),
            (image_upload("PNG", size=(10, 4001)), "larger than 4000×4000 pixels"),
            (image_upload("PNG", size=(10000, 10000), mode="1"), "larger than 4000×4000 pixels"),
        ],
        ids=["not-an-image", "empty", "gif", "bmp", "too-big", "too-wide", "too-tall", "bomb"],
    )
    def test_bad_avatar_is_refused_and_nothing_changes(self, upload, message):
        user = UserFactory()
        services.update_profile(user=user, **profile_data(), avatar=image_upload())
        before = snapshot(user)
        with pytest.raises(ValidationError) as excinfo:
            services.update_profile(
                user=user, **profile_data(first_name="Changed", phone="0712345678"), avatar=upload
            )
        assert list(excinfo.value.message_dict) == ["avatar"]
        assert message in excinfo.value.message_dict["avatar"][0]
        assert snapshot(user) == before

    def test_too_big_is_checked_before_decoding(self):
        upload = SimpleUploadedFile("big.jpg", b"\0" * (MAX_BYTES + 1), "image/jpeg")
        with pytest.raises(ValidationError) as excinfo:
            services.update_profile(user=UserFactory(), **profile_data(), avatar=upload)
        assert "2.0\xa0MB" in excinfo.value.message_dict["avatar"][0]

    def test_a_truncated_image_is_refused(self):
        whole = image_upload("PNG", size=(200, 200), noise=True).read()
        upload = SimpleUploadedFile("cut.png", whole[: len(whole) // 2], "image/png")
        with pytest.raises(ValidationError):
            services.update_profile(user=UserFactory(), **profile_data(), avatar=upload)

    def test_replacing_the_avatar_deletes_the_old_file_after_commit(
        self, django_capture_on_commit_callbacks
    ):
        user = UserFactory()
        services.update_profile(user=user, **profile_data(), avatar=image_upload())
        old = user.avatar.name
        with django_capture_on_commit_callbacks(execute=True):
            services.update_profile(user=user, **profile_data(), avatar=image_upload("PNG"))
        assert user.avatar.name != old
        assert not user.avatar.storage.exists(old)
        assert user.avatar.storage.exists(user.avatar.name)

    def test_removing_the_avatar_clears_it_and_deletes_the_file(
        self, django_capture_on_commit_callbacks
    ):
        user = UserFactory()
        services.update_profile(user=user, **profile_data(), avatar=image_upload())
        old, storage = user.avatar.name, user.avatar.storage
        with django_capture_on_commit_callbacks(execute=True):
            services.update_profile(user=user, **profile_data(), remove_avatar=True)
        user.refresh_from_db()
        assert not user.avatar
        assert not storage.exists(old)


class TestCreateAddress:
    def test_first_address_becomes_the_default_and_phone_is_normalised(self):
        user = UserFactory()
        address = services.create_address(user=user, **address_data())
        assert address.is_default
        assert address.phone == "254722000111"
        assert address.county_name == "Kisumu"

    def test_later_addresses_are_not_default_unless_asked(self):
        user = UserFactory()
        first = services.create_address(user=user, **address_data())
        second = services.create_address(user=user, **address_data(town="Milimani"))
        assert not second.is_default
        third = services.create_address(user=user, **address_data(), is_default=True)
        first.refresh_from_db()
        assert third.is_default
        assert not first.is_default
        assert Address.objects.filter(user=user, is_default=True).count() == 1

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"phone": "0000"}, "phone"),
            ({"phone": ""}, "phone"),
            ({"county": 99}, "county"),
            ({"county": 0}, "county"),
            ({"town": "  "}, "town"),
            ({"recipient_name": ""}, "recipient_name"),
        ],
    )
    def test_invalid_values_save_nothing(self, overrides, field):
        user = UserFactory()
        with pytest.raises(ValidationError) as excinfo:
            services.create_address(user=user, **address_data(**overrides))
        assert field in excinfo.value.message_dict
        assert not Address.objects.exists()


class TestUpdateAddress:
    def test_changes_the_details(self):
        address = AddressFactory()
        services.update_address(
            user=address.user, address_id=address.pk, **address_data(phone="0110 123 456")
        )
        address.refresh_from_db()
        assert (address.recipient_name, address.phone, address.county) == (
            "Achieng Otieno",
            "254110123456",
            42,
        )

    def test_another_shoppers_address_is_not_found_and_not_changed(self):
        address = AddressFactory(town="Westlands")
        with pytest.raises(Address.DoesNotExist):
            services.update_address(user=UserFactory(), address_id=address.pk, **address_data())
        address.refresh_from_db()
        assert address.town == "Westlands"

    def test_tampered_county_changes_nothing(self):
        address = AddressFactory(county=47)
        with pytest.raises(ValidationError):
            services.update_address(
                user=address.user, address_id=address.pk, **address_data(county=48)
            )
        address.refresh_from_db()
        assert address.county == 47


class TestDeleteAddress:
    def test_deleting_the_default_promotes_the_most_recent_other_address(self):
        user = UserFactory()
        default = services.create_address(user=user, **address_data())
        older = services.create_address(user=user, **address_data(town="Older"))
        newer = services.create_address(user=user, **address_data(town="Newer"))
        services.delete_address(user=user, address_id=default.pk)
        newer.refresh_from_db()
        older.refresh_from_db()
        assert newer.is_default
        assert not older.is_default

    def test_deleting_another_address_keeps_the_default(self):
        user = UserFactory()
        default = services.create_address(user=user, **address_data())
        other = services.create_address(user=user, **address_data())
        services.delete_address(user=user, address_id=other.pk)
        default.refresh_from_db()
        assert default.is_default

    def test_deleting_the_last_address_leaves_none(self):
        address = services.create_address(user=UserFactory(), **address_data())
        services.delete_address(user=address.user, address_id=address.pk)
        assert not Address.objects.exists()

    def test_another_shoppers_address_is_not_found_and_not_deleted(self):
        address = AddressFactory()
        with pytest.raises(Address.DoesNotExist):
            services.delete_address(user=UserFactory(), address_id=address.pk)
        assert Address.objects.filter(pk=address.pk).exists()


class TestSetDefaultAddress:
    def test_moves_the_default(self):
        user = UserFactory()
        first = services.create_address(user=user, **address_data())
        second = services.create_address(user=user, **address_data())
        services.set_default_address(user=user, address_id=second.pk)
        first.refresh_from_db()
        second.refresh_from_db()
        assert second.is_default
        assert not first.is_default

    def test_already_default_is_a_no_op(self):
        address = services.create_address(user=UserFactory(), **address_data())
        assert services.set_default_address(user=address.user, address_id=address.pk).is_default

    def test_another_shoppers_address_is_not_found_and_nothing_changes(self):
        mine = services.create_address(user=UserFactory(), **address_data())
        theirs = AddressFactory(is_default=False)
        with pytest.raises(Address.DoesNotExist):
            services.set_default_address(user=mine.user, address_id=theirs.pk)
        theirs.refresh_from_db()
        mine.refresh_from_db()
        assert mine.is_default
        assert not theirs.is_default


class TestDatabaseConstraints:
    def test_at_most_one_default_address_per_user(self):
        user = UserFactory()
        AddressFactory(user=user, is_default=True)
        AddressFactory(is_default=True)  # another shopper's default is fine
        with pytest.raises(IntegrityError), transaction.atomic():
            AddressFactory(user=user, is_default=True)

    @pytest.mark.parametrize("phone", ["0712345678", "254012345678", "25471234567", "254812345678"])
    def test_addresses_store_only_normalised_phones(self, phone):
        with pytest.raises(IntegrityError), transaction.atomic():
            AddressFactory(phone=phone)

    def test_users_store_only_normalised_or_blank_phones(self):
        UserFactory(phone="")
        UserFactory(phone="254712345678")
        with pytest.raises(IntegrityError), transaction.atomic():
            UserFactory(phone="0712345678")

    def test_county_code_must_be_1_to_47(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            AddressFactory(county=48)
