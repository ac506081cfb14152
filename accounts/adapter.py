"""The login library's hooks: the shop's client address, lock-out rule and words.

django-allauth counts failed logins per client address and per account.
Its address comes from ``storefront.web.client_ip`` (the trusted proxies'
X-Forwarded-For), never its own guess: behind a proxy every shopper would
otherwise share one bucket, and on a unix socket it would refuse every
login. Its per-account count is kept per account *and* client, so a
stranger's wrong passwords lock only the stranger out, not the shopper.

allauth has no Kiswahili of its own: its error messages are listed here
(the same English, from the shop's catalogue), its labels in
``accounts/allauth_strings.py``, its flash messages and emails are
templates in ``templates/account/``. Its emails are written in the
account's language (the page's when the account has none), and a new
account keeps the language it signed up in, so the welcome email and
every later one speaks it too.
"""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from storefront import i18n
from storefront.web import client_ip

logger = logging.getLogger(__name__)

#: Stands in for an address that can't be told (a unix socket with no proxy header).
UNKNOWN_CLIENT = "0.0.0.0"


class AccountAdapter(DefaultAccountAdapter):
    # allauth's own English, word for word, so that it comes from our catalogue.
    # Codes for usernames, phones and sign-in codes are left to allauth: the
    # shop signs in by email and password only.
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "account_inactive": _("This account is currently inactive."),
        "cannot_remove_primary_email": _("You cannot remove your primary email address."),
        "duplicate_email": _("This email address is already associated with this account."),
        "email_password_mismatch": _(
            "The email address and/or password you specified are not correct."
        ),
        "email_taken": _("A user is already registered with this email address."),
        "enter_current_password": _("Please type your current password."),
        "incorrect_password": _("Incorrect password."),
        "invalid_or_expired_key": _("Invalid or expired key."),
        "invalid_login": _("Invalid login."),
        "invalid_password_reset": _("The password reset token was invalid."),
        "max_email_addresses": _("You cannot add more than %d email addresses."),
        "too_many_login_attempts": _("Too many failed login attempts. Try again later."),
        "unknown_email": _("The email address is not assigned to any user account."),
        "unverified_primary_email": _("Your primary email address must be verified."),
        "select_only_one": _("Please select only one."),
        "same_as_current": _("The new value must be different from the current one."),
        "rate_limited": _("Be patient, you are sending too many requests."),
    }

    def get_client_ip(self, request) -> str:
        address = client_ip(request)
        if address is None:
            logger.warning(
                "No client address for %s (no REMOTE_ADDR or X-Forwarded-For): "
                "counting it with every other such request",
                request.path,
            )
            return UNKNOWN_CLIENT
        return address

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}|{self.get_client_ip(request)}"

    def save_user(self, request, user, form, commit=True):
        """Save a new account with the language the shopper signed up in."""
        if not user.language:
            user.language = i18n.supported(translation.get_language()) or ""
        return super().save_user(request, user, form, commit=commit)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Send allauth's email in the account's language (else the page's)."""
        language = i18n.language_for(context.get("user"), fallback=translation.get_language())
        with translation.override(language):
            super().send_mail(template_prefix, email, context)
