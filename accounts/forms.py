"""Forms for the account pages: they check the shape of input, services decide."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from .avatars import ACCEPT, validate_avatar
from .counties import COUNTIES_BY_NAME
from .phones import InvalidPhoneNumber, format_local_phone, normalise_kenyan_phone


class KenyanPhoneField(forms.CharField):
    """A text input that cleans to a normalised Kenyan mobile number.

    Clean to ``2547XXXXXXXX``/``2541XXXXXXXX`` (or "" when optional and
    left blank); anything else is a ValidationError with one clear message.
    """

    widget = forms.TextInput
    default_error_messages = {
        "invalid": _("Enter a Safaricom/Airtel number like 0712 345 678."),
    }

    def widget_attrs(self, widget):
        """Ask phones for the dial pad and browsers for the saved number.

        ``type="tel"`` is avoided only because crispy-tailwind styles inputs
        by widget class; ``inputmode`` brings up the same keypad.
        """
        return {
            **super().widget_attrs(widget),
            "inputmode": "tel",
            "autocomplete": "tel",
            "maxlength": "20",
            "placeholder": "0712 345 678",
        }

    def prepare_value(self, value):
        """Show a stored ``2547…`` number as shoppers write it: ``0712 345 678``."""
        return format_local_phone(super().prepare_value(value))

    def clean(self, value):
        """Return the normalised number, or raise ValidationError."""
        value = super().clean(value)
        if value in self.empty_values:
            return ""
        try:
            return normalise_kenyan_phone(value)
        except InvalidPhoneNumber as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    phone = KenyanPhoneField(
        label=_("Mobile number"),
        required=False,
        help_text=_("Safaricom or Airtel. We only call about your deliveries."),
    )
    avatar = forms.FileField(
        label=_("Profile photo"),
        required=False,
        help_text=_("Optional. JPEG, PNG or WebP, up to 2 MB and 4000×4000 pixels."),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )
    # Each language is named in itself ("Kiswahili", "English"). Left out of
    # the post: the saved language stays.
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=_("For the shop, your emails and your text messages."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"

    def clean_avatar(self):
        """Check a new photo now, so its error shows alongside any other.

        The service checks it again: that is the rule; this is feedback.
        """
        avatar = self.cleaned_data["avatar"]
        if isinstance(avatar, UploadedFile):
            validate_avatar(avatar)
        return avatar


class AddressForm(forms.Form):
    recipient_name = forms.CharField(
        label=_("Recipient's name"),
        max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = KenyanPhoneField(
        label=_("Recipient's mobile number"),
        help_text=_("The rider calls this number on delivery."),
    )
    county = forms.TypedChoiceField(
        label=_("County"),
        choices=[("", _("Choose a county")), *COUNTIES_BY_NAME],
        coerce=int,
        error_messages={"invalid_choice": _("Choose your county from the list.")},
    )
    town = forms.CharField(
        label=_("Town or area"),
        max_length=100,
        help_text=_("For example Westlands, Nyali or Kisumu CBD."),
    )
    street = forms.CharField(
        label=_("Street or building"),
        max_length=200,
        help_text=_("Street, estate, building and house or flat number."),
    )
    notes = forms.CharField(
        label=_("Landmark or delivery notes"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. For example: opposite Naivas, blue gate, call on arrival."),
    )


class NewAddressForm(AddressForm):
    is_default = forms.BooleanField(label=_("Use as my default delivery address"), required=False)
