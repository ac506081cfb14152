"""Business rules of shoppers' accounts: profile, delivery addresses, their data.

Every write runs ``full_clean()`` before ``save()`` and raises
ValidationError (keyed by field) with messages safe to show shoppers. Address
services look the address up through the shopper who owns it, so another
shopper's address id raises ``Address.DoesNotExist`` exactly like a missing one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront import locks

from .avatars import ALLOWED_FORMATS, validate_avatar
from .models import Address, User
from .phones import InvalidPhoneNumber, normalise_kenyan_phone


def _normalised_phone(raw: str, *, required: bool) -> str:
    """Return *raw* normalised, or raise ValidationError keyed ``phone``."""
    if not required and not raw.strip():
        return ""
    try:
        return normalise_kenyan_phone(raw)
    except InvalidPhoneNumber as exc:
        raise ValidationError({"phone": [exc.message]}) from exc


def _delete_file_on_commit(storage, name: str) -> None:
    """Delete a replaced upload once the new one is safely committed."""
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def update_profile(
    *,
    user: User,
    first_name: str,
    last_name: str,
    phone: str,
    avatar: File | None = None,
    remove_avatar: bool = False,
    language: str = "",
) -> User:
    """Update the shopper's name, phone, avatar and language; return the user.

    The phone is stored normalised (``2547XXXXXXXX``) and may be blank. A new
    *avatar* must pass ``validate_avatar`` and is stored under a random name
    in ``avatars/``; *remove_avatar* clears it. A replaced or removed photo
    is deleted from storage after the transaction commits. A blank
    *language* keeps the saved one; any other must be one of
    ``settings.LANGUAGES``. Raise ValidationError and change nothing if any
    value is invalid.
    """
    phone = _normalised_phone(phone, required=False)
    if avatar is not None:
        try:
            image_format = validate_avatar(avatar)
        except ValidationError as exc:
            raise ValidationError({"avatar": exc.error_list}) from exc
        avatar.name = "avatar" + ALLOWED_FORMATS[image_format]
    old_avatar = user.avatar.name
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.phone = phone
    if avatar is not None:
        user.avatar = avatar
    elif remove_avatar:
        user.avatar = ""
    if language:
        user.language = language
    user.full_clean()
    user.save(update_fields=["first_name", "last_name", "phone", "avatar", "language"])
    if old_avatar and old_avatar != user.avatar.name:
        _delete_file_on_commit(user.avatar.storage, old_avatar)
    return user


def _lock_addresses_of(user: User) -> None:
    """Serialise address writes per shopper by locking the user's row.

    Two concurrent "first address" requests would otherwise both make their
    address the default; the partial unique constraint is the backstop.
    """
    locks.lock_user(user.pk)


def _owned_address(user: User, address_id) -> Address:
    """Return *user*'s address *address_id*, or raise Address.DoesNotExist."""
    return Address.objects.get(user=user, pk=address_id)


def _make_sole_default(address: Address) -> None:
    """Clear the shopper's other default, then mark *address* (unsaved) default."""
    Address.objects.filter(user_id=address.user_id, is_default=True).exclude(pk=address.pk).update(
        is_default=False
    )
    address.is_default = True


@transaction.atomic
def create_address(
    *,
    user: User,
    recipient_name: str,
    phone: str,
    county: int,
    town: str,
    street: str,
    notes: str = "",
    is_default: bool = False,
) -> Address:
    """Save a new delivery address for *user* and return it.

    The shopper's first address (or any address while none is the default)
    becomes the default; ``is_default=True`` moves the default to the new
    one. Lock the user's row. Raise ValidationError for a bad phone, an
    unknown county or missing fields; nothing is saved then.
    """
    _lock_addresses_of(user)
    address = Address(
        user=user,
        recipient_name=recipient_name.strip(),
        phone=_normalised_phone(phone, required=True),
        county=county,
        town=town.strip(),
        street=street.strip(),
        notes=notes.strip(),
    )
    has_default = Address.objects.filter(user=user, is_default=True).exists()
    if is_default or not has_default:
        _make_sole_default(address)
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def update_address(
    *,
    user: User,
    address_id: int,
    recipient_name: str,
    phone: str,
    county: int,
    town: str,
    street: str,
    notes: str = "",
) -> Address:
    """Change the details of one of *user*'s addresses and return it.

    Lock the user's row. Raise Address.DoesNotExist if the address is not
    the user's, and ValidationError for invalid values (nothing is saved).
    """
    _lock_addresses_of(user)
    address = _owned_address(user, address_id)
    address.recipient_name = recipient_name.strip()
    address.phone = _normalised_phone(phone, required=True)
    address.county = county
    address.town = town.strip()
    address.street = street.strip()
    address.notes = notes.strip()
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def delete_address(*, user: User, address_id: int) -> None:
    """Delete one of *user*'s addresses.

    If it was the default, the most recently updated remaining address
    becomes the default. Lock the user's row. Raise Address.DoesNotExist if
    the address is not the user's.
    """
    _lock_addresses_of(user)
    address = _owned_address(user, address_id)
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.filter(user=user).order_by("-updated", "-pk").first()
        if successor is not None:
            successor.is_default = True
            successor.full_clean()
            successor.save(update_fields=["is_default", "updated"])


@transaction.atomic
def set_default_address(*, user: User, address_id: int) -> Address:
    """Make one of *user*'s addresses the default and return it.

    Lock the user's row; the previous default stops being the default.
    Raise Address.DoesNotExist if the address is not the user's.
    """
    _lock_addresses_of(user)
    address = _owned_address(user, address_id)
    if not address.is_default:
        _make_sole_default(address)
        address.full_clean()
        address.save(update_fields=["is_default", "updated"])
    return address


# Your data (Data Protection Act, 2019: access, portability, deletion) --------


class AccountNotDeletable(Exception):
    """The account can't be deleted yet; ``reasons`` are safe to show the shopper."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class PersonalDataSource:
    """What another app keeps about a shopper, and how to export or erase it.

    *export*(user) returns JSON-ready data (DjangoJSONEncoder: Decimals and
    datetimes are fine). *blockers*(user) returns reasons, safe to show, why
    the account can't be deleted now; it runs first, inside the deletion's
    transaction, after the user's row is locked, so it may take its own
    locks (in ``storefront.locks`` order). *erase*(user) removes or detaches
    the data, in the same transaction.
    """

    name: str
    export: Callable[[User], Any]
    erase: Callable[[User], None] | None = None
    blockers: Callable[[User], list[str]] | None = None


class PersonalDataSources:
    """The registry the other apps hand their parts to at start-up.

    accounts imports nothing of the shop: the shop registers its orders,
    wishlist, cart and reviews here from ``ShopConfig.ready()``.
    """

    def __init__(self) -> None:
        self._sources: dict[str, PersonalDataSource] = {}

    def register(
        self,
        name: str,
        *,
        export: Callable[[User], Any],
        erase: Callable[[User], None] | None = None,
        blockers: Callable[[User], list[str]] | None = None,
    ) -> None:
        """Add (or replace) the source *name*; its export goes under that key."""
        self._sources[name] = PersonalDataSource(name, export, erase, blockers)

    def __iter__(self):
        return iter(list(self._sources.values()))


personal_data_sources = PersonalDataSources()


def _profile_data(user: User) -> dict:
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "profile_photo": user.avatar.url if user.avatar else "",
        "date_joined": user.date_joined,
        "last_login": user.last_login,
    }


def _address_data(user: User) -> list[dict]:
    return [
        {
            "recipient_name": address.recipient_name,
            "phone": address.phone,
            "county": address.county_name,
            "town": address.town,
            "street": address.street,
            "notes": address.notes,
            "is_default": address.is_default,
            "created": address.created,
            "updated": address.updated,
        }
        for address in Address.objects.for_user(user)
    ]


def export_data(*, user: User) -> dict:
    """Return everything the shop keeps about *user*, ready for JSON.

    Profile and addresses come from here; orders (with lines and payment
    receipts), wishlist, cart and reviews from the registered sources.
    Reads only, locks nothing.
    """
    data: dict[str, Any] = {
        "exported_at": timezone.now(),
        "profile": _profile_data(user),
        "addresses": _address_data(user),
    }
    for source in personal_data_sources:
        data[source.name] = source.export(user)
    return data


def deletion_blockers(*, user: User) -> list[str]:
    """Return why *user*'s account can't be deleted now (empty: it can be)."""
    reasons = []
    if user.is_staff or user.is_superuser:
        reasons.append(_("Staff accounts are closed by an administrator, not from this page."))
    for source in personal_data_sources:
        if source.blockers is not None:
            reasons.extend(source.blockers(user))
    return reasons


@transaction.atomic
def delete_account(*, user: User) -> str:
    """Remove *user*'s personal details and return the email they had.

    Lock the user's row, then ask every source for blockers (each may lock
    its own rows); raise AccountNotDeletable, changing nothing, if any. Then
    every source erases its part (the shop detaches orders, which the tax
    law makes it keep, and deletes wishlist, cart and reviews), saved
    addresses and sign-in emails are deleted, and the user is anonymised:
    name, email, phone and photo cleared, unusable password (every other
    session is refused at its next request), inactive. The photo's file is
    deleted, and the confirmation email queued, after commit.
    """
    from allauth.account.models import EmailAddress

    from .tasks import send_account_deleted_email

    locks.lock_user(user.pk)
    user.refresh_from_db()
    reasons = deletion_blockers(user=user)
    if reasons:
        raise AccountNotDeletable(reasons)
    email, first_name, old_avatar = user.email, user.first_name, user.avatar.name
    language = user.language
    for source in personal_data_sources:
        if source.erase is not None:
            source.erase(user)
    Address.objects.filter(user=user).delete()
    EmailAddress.objects.filter(user=user).delete()
    user.username = f"deleted-{user.pk}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.phone = ""
    user.avatar = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    if old_avatar:
        _delete_file_on_commit(user.avatar.storage, old_avatar)
    if email:
        transaction.on_commit(
            lambda: send_account_deleted_email.enqueue(
                email=email, first_name=first_name, language=language
            )
        )
    return email
