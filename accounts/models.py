from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A shopper or a member of staff; signs in by email."""

    email = models.EmailField(_("email address"), blank=True)
    phone = models.CharField(
        _("phone"), max_length=12, blank=True, help_text=_("Normalised to 2547XXXXXXXX.")
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
            )
        ]

    def __str__(self) -> str:
        return self.email or self.username
