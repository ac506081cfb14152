"""Forms of the shop's pages: they check the shape of input, services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import AddressForm, KenyanPhoneField

NEW_ADDRESS = "new"


class CheckoutForm(forms.Form):
    """Who is paying, where it goes, and the M-Pesa number.

    Guests give an email; signed-in shoppers pick one of *their* saved
    addresses or a new one (typed in the ``new-`` prefixed AddressForm).
    An address id that is not the shopper's is an invalid choice.
    """

    email = forms.EmailField(
        label=_("Email"),
        help_text=_("For your receipt and delivery updates."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    address = forms.ChoiceField(
        label=_("Deliver to"),
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose one of your saved addresses.")},
    )
    save_address = forms.BooleanField(
        label=_("Save this address to my account"), required=False, initial=True
    )
    mpesa_phone = KenyanPhoneField(
        label=_("M-Pesa number"),
        help_text=_("We send the payment prompt to this phone."),
    )

    def __init__(self, *args, user=None, addresses=(), **kwargs):
        super().__init__(*args, **kwargs)
        signed_in = user is not None and user.is_authenticated
        if signed_in:
            del self.fields["email"]
        else:
            del self.fields["save_address"]
        if signed_in and addresses:
            self.fields["address"].choices = [
                *((str(a.pk), str(a)) for a in addresses),
                (NEW_ADDRESS, _("A new address")),
            ]
        else:
            del self.fields["address"]

    @property
    def wants_new_address(self) -> bool:
        """Whether the new-address fields must be filled (valid forms only)."""
        return self.cleaned_data.get("address", NEW_ADDRESS) == NEW_ADDRESS


class NewAddressForm(AddressForm):
    """The delivery address typed at checkout (fields prefixed ``new-``)."""

    prefix = "new"
