"""Background work of accounts (django-tasks, run by the ``worker`` process)."""

from django.conf import settings
from django_tasks import task

from storefront import emails, i18n, jobs

from .models import User


@task()
@jobs.retry(on=(OSError,))
def send_welcome_email(user_id: int) -> None:
    """Welcome a new shopper, with where to start (tried again while mail is down)."""
    user = User.objects.get(pk=user_id)
    if not user.email:
        return
    emails.send_email(
        "welcome",
        to=[user.email],
        context={"user": user, "shop_url": settings.SITE_URL + "/products/"},
        language=i18n.language_for(user),
    )


@task()
@jobs.retry(on=(OSError,))
def send_account_deleted_email(email: str, first_name: str = "", language: str = "") -> None:
    """Confirm to a former shopper that their account and details were deleted.

    The address is passed in: the account no longer has it.
    """
    emails.send_email(
        "account_deleted",
        to=[email],
        context={"first_name": first_name, "privacy_url": settings.SITE_URL + "/pages/privacy/"},
        language=i18n.language_for(fallback=language),
    )
