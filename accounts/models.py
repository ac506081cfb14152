from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .avatars import avatar_upload_to
from .counties import COUNTIES, COUNTY_NAMES

# Stored phone numbers are always normalised (see accounts.phones).
PHONE_REGEX = r"^254[17][0-9]{8}\Z"
validate_normalised_phone = RegexValidator(
    PHONE_REGEX, _("Phone numbers are stored as 2547XXXXXXXX or 2541XXXXXXXX."), "phone"
)


class User(AbstractUser):
    """A shopper or a member of staff; signs in by email."""

    email = models.EmailField(_("email address"), blank=True)
    phone = models.CharField(
        _("phone"),
        max_length=12,
        blank=True,
        validators=[validate_normalised_phone],
        help_text=_("Normalised to 2547XXXXXXXX."),
    )
    avatar = models.ImageField(_("avatar"), upload_to=avatar_upload_to, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("The language of the shop, emails and texts (blank: the browser's)."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(phone="") | models.Q(phone__regex=PHONE_REGEX),
                name="accounts_user_phone_normalised",
                violation_error_message=validate_normalised_phone.message,
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.username


class AddressQuerySet(models.QuerySet):
    def for_user(self, user) -> "AddressQuerySet":
        """Return only *user*'s addresses, default first, then newest."""
        return self.filter(user=user).order_by("-is_default", "-updated", "-pk")


class Address(models.Model):
    """A delivery address a shopper saved for checkout."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        related_name="addresses",
        on_delete=models.CASCADE,
    )
    recipient_name = models.CharField(_("recipient name"), max_length=120)
    phone = models.CharField(
        _("phone"),
        max_length=12,
        validators=[validate_normalised_phone],
        help_text=_("Normalised to 2547XXXXXXXX; the rider calls this number."),
    )
    county = models.PositiveSmallIntegerField(_("county"), choices=COUNTIES)
    town = models.CharField(_("town or area"), max_length=100)
    street = models.CharField(_("street or building"), max_length=200)
    notes = models.CharField(_("landmark or delivery notes"), max_length=300, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = AddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "-updated", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default=True),
                name="accounts_address_one_default_per_user",
                violation_error_message=_("Only one address can be the default."),
            ),
            models.CheckConstraint(
                condition=models.Q(county__gte=1, county__lte=len(COUNTIES)),
                name="accounts_address_county_code",
            ),
            models.CheckConstraint(
                condition=models.Q(phone__regex=PHONE_REGEX),
                name="accounts_address_phone_normalised",
                violation_error_message=validate_normalised_phone.message,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_name}, {self.street}, {self.town}, {self.county_name}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:address-update", args=[self.pk])

    @property
    def county_name(self) -> str:
        return COUNTY_NAMES.get(self.county, "")
