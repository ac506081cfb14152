from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.files.uploadedfile import UploadedFile

from .avatars import validate_avatar
from .forms import KenyanPhoneField
from .models import Address, User


class UserAdminForm(UserChangeForm):
    """Let staff type phones the way shoppers do; check new avatars like the shop does."""

    phone = KenyanPhoneField(required=False)

    class Meta(UserChangeForm.Meta):
        model = User

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile):
            validate_avatar(avatar)
        return avatar


class AddressAdminForm(forms.ModelForm):
    phone = KenyanPhoneField()

    class Meta:
        model = Address
        fields = (
            "user",
            "recipient_name",
            "phone",
            "county",
            "town",
            "street",
            "notes",
            "is_default",
        )


class AddressInline(admin.StackedInline):
    model = Address
    form = AddressAdminForm
    extra = 0
    fields = (
        ("recipient_name", "phone"),
        ("county", "town"),
        "street",
        "notes",
        "is_default",
    )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserAdminForm
    list_display = ("email", "username", "first_name", "last_name", "phone", "is_staff")
    search_fields = ("email", "username", "first_name", "last_name", "phone")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Shop", {"fields": ("phone", "avatar")}))
    inlines = [AddressInline]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    form = AddressAdminForm
    list_display = ("recipient_name", "user", "phone", "county", "town", "is_default", "updated")
    list_filter = ("county", "is_default")
    search_fields = ("user__email", "user__phone", "phone", "recipient_name")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created", "updated")
    date_hierarchy = "created"
