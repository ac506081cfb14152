"""Forms of the payment pages: input shape only, services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import KenyanPhoneField


class MpesaPhoneForm(forms.Form):
    phone = KenyanPhoneField(
        label=_("M-Pesa number"),
        help_text=_("The phone that gets the M-Pesa prompt."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The status fragment is polled: keep what the shopper is typing.
        self.fields["phone"].widget.attrs["hx-preserve"] = "true"
