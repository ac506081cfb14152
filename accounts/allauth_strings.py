"""Words the sign-in pages show that come from the login library or Django.

django-allauth has no Kiswahili catalogue, and Django's own Kiswahili lacks
most password rules. Both look their words up with gettext, by the English
text; Django searches the shop's catalogue (``LOCALE_PATHS``) first, so a
msgid listed here, exactly as the library writes it, comes out in the
shop's Kiswahili wherever the library shows it. Nothing imports this
module: it exists to be extracted into ``locale/sw``.

Kept in step with django-allauth 65 (``account/forms.py``, ``fields.py``,
``templates/account/email.html``) and Django 5.2 (password validators,
form fields). ``accounts/tests/test_kiswahili.py`` fails when an
upgrade shows a label that is not listed here. allauth's error messages are
in ``accounts/adapter.py``; its flash messages and emails are templates in
``templates/account/``.
"""

from django.utils.translation import gettext_noop, ngettext_lazy

#: Labels, placeholders and help of allauth's sign-in, sign-up, password and
#: email forms (the shop signs in by email and password).
FORM_LABELS = (
    gettext_noop("Email"),
    gettext_noop("Email address"),
    gettext_noop("Password"),
    gettext_noop("Password (again)"),
    gettext_noop("Current Password"),
    gettext_noop("New Password"),
    gettext_noop("New Password (again)"),
    gettext_noop("Remember Me"),
    gettext_noop("Forgot your password?"),
)

#: Errors the forms add themselves (not through the adapter).
FORM_ERRORS = (
    gettext_noop("You must type the same password each time."),
    gettext_noop("You must type the same email each time."),
    # Django's form fields, shown on every sign-in form.
    gettext_noop("This field is required."),
    gettext_noop("Enter a valid email address."),
)

#: Django's password rules (AUTH_PASSWORD_VALIDATORS): the help under a new
#: password and the errors when one is refused.
PASSWORD_RULES = (
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
)
PASSWORD_LENGTH_RULES = (
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        "min_length",
    ),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
    ),
)

#: allauth's page for the account's email addresses (``account/email.html``,
#: not overridden: it renders in the shop's element templates).
EMAIL_PAGE = (
    gettext_noop("Email Addresses"),
    gettext_noop("The following email addresses are associated with your account:"),
    gettext_noop("Verified"),
    gettext_noop("Unverified"),
    gettext_noop("Primary"),
    gettext_noop("Make Primary"),
    gettext_noop("Re-send Verification"),
    gettext_noop("Remove"),
    gettext_noop("Add Email Address"),
    gettext_noop("Add Email"),
    gettext_noop("Do you really want to remove the selected email address?"),
    gettext_noop("Warning:"),
    gettext_noop(
        "You currently do not have any email address set up. You should really add an "
        "email address so you can receive notifications, reset your password, etc."
    ),
)
