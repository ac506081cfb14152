"""Account pages: overview, profile, delivery addresses and "Your data".

Thin function views: bind the form, call a service, redirect after a
successful POST (with a message) or re-render the form with its errors.
Addresses are only ever looked up through the signed-in shopper, so another
shopper's address id is a 404, exactly like a missing one.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from storefront import i18n, ratelimit
from storefront.web import client_ip, safe_next

from . import services
from .adapter import UNKNOWN_CLIENT
from .forms import AddressForm, NewAddressForm, ProfileForm
from .models import Address


def _show_errors(form: Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where possible."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _owned_address_or_404(request: HttpRequest, pk: int) -> Address:
    return get_object_or_404(Address.objects.for_user(request.user), pk=pk)


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    addresses = Address.objects.for_user(request.user)
    context = {
        "default_address": addresses.first(),
        "address_count": addresses.count(),
        "latest_order": request.user.orders.order_by("-created", "-id").first(),
    }
    return render(request, "accounts/overview.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "avatar": user.avatar or None,
        "language": user.language or request.LANGUAGE_CODE,
    }
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES, initial=initial)
        if form.is_valid():
            data = form.cleaned_data
            avatar = data["avatar"]
            try:
                services.update_profile(
                    user=user,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    phone=data["phone"],
                    avatar=avatar if isinstance(avatar, UploadedFile) else None,
                    remove_avatar=avatar is False,
                    language=data["language"],
                )
            except ValidationError as exc:
                user.refresh_from_db()
                _show_errors(form, exc)
            else:
                language = data["language"] or translation.get_language()
                with translation.override(language):  # in the language just chosen
                    messages.success(request, _("Your profile has been saved."))
                response = redirect("accounts:profile")
                if data["language"]:
                    i18n.remember(response, data["language"])
                return response
    else:
        form = ProfileForm(initial=initial)
    return render(request, "accounts/profile.html", {"form": form})


@login_required
@require_GET
def address_list(request: HttpRequest) -> HttpResponse:
    addresses = list(Address.objects.for_user(request.user))
    return render(request, "accounts/address_list.html", {"addresses": addresses})


@login_required
@require_http_methods(["GET", "POST"])
def address_create(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request)
    if request.method == "POST":
        form = NewAddressForm(request.POST)
        if form.is_valid():
            try:
                services.create_address(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _show_errors(form, exc)
            else:
                messages.success(request, _("Your delivery address has been saved."))
                return redirect(next_url or "accounts:address-list")
    else:
        form = NewAddressForm()
    return render(
        request, "accounts/address_form.html", {"form": form, "address": None, "next": next_url}
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_update(request: HttpRequest, pk: int) -> HttpResponse:
    address = _owned_address_or_404(request, pk)
    if request.method == "POST":
        form = AddressForm(request.POST)
        if form.is_valid():
            try:
                services.update_address(
                    user=request.user, address_id=address.pk, **form.cleaned_data
                )
            except Address.DoesNotExist as exc:
                raise Http404 from exc
            except ValidationError as exc:
                _show_errors(form, exc)
            else:
                messages.success(request, _("Your delivery address has been updated."))
                return redirect("accounts:address-list")
    else:
        form = AddressForm(
            initial={name: getattr(address, name) for name in AddressForm.base_fields}
        )
    return render(request, "accounts/address_form.html", {"form": form, "address": address})


@login_required
@require_http_methods(["GET", "POST"])
def address_delete(request: HttpRequest, pk: int) -> HttpResponse:
    address = _owned_address_or_404(request, pk)
    if request.method == "POST":
        try:
            services.delete_address(user=request.user, address_id=address.pk)
        except Address.DoesNotExist as exc:
            raise Http404 from exc
        messages.success(request, _("The address has been deleted."))
        return redirect("accounts:address-list")
    return render(request, "accounts/address_confirm_delete.html", {"address": address})


@login_required
@require_POST
def address_set_default(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        address = services.set_default_address(user=request.user, address_id=pk)
    except Address.DoesNotExist as exc:
        raise Http404 from exc
    messages.success(
        request,
        _("Deliveries will now go to %(address)s by default.")
        % {"address": f"{address.recipient_name}, {address.town}"},
    )
    return redirect("accounts:address-list")


# Your data ------------------------------------------------------------------

#: Wrong passwords allowed on the delete page per shopper per window.
DELETE_ATTEMPTS = 5
DELETE_WINDOW = 300
#: What a shopper without a password types to confirm the deletion.
DELETE_WORD = "DELETE"


class DeleteAccountForm(forms.Form):
    """The deletion's confirmation: the password, or the typed word without one."""

    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            self.fields["password"] = forms.CharField(
                label=gettext_lazy("Type DELETE to confirm"), max_length=20
            )

    def clean_password(self) -> str:
        value = self.cleaned_data["password"]
        if self.user.has_usable_password():
            if not self.user.check_password(value):
                raise ValidationError(_("That is not your password."), code="password")
        elif value.strip() != DELETE_WORD:
            raise ValidationError(_("Type DELETE in capitals to confirm."), code="confirm")
        return value


@login_required
@require_GET
def your_data(request: HttpRequest) -> HttpResponse:
    """Download your data, or see what deleting the account would do."""
    blockers = services.deletion_blockers(user=request.user)
    return render(request, "accounts/your_data.html", {"blockers": blockers})


@login_required
@require_GET
def your_data_download(request: HttpRequest) -> HttpResponse:
    """Everything the shop keeps about the shopper, as a JSON file."""
    data = services.export_data(user=request.user)
    response = JsonResponse(
        data, encoder=DjangoJSONEncoder, json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    filename = f"{settings.SITE_NAME}-my-data-{timezone.localdate():%Y-%m-%d}.json"
    filename = "".join(c if c.isalnum() or c in "-." else "-" for c in filename).lower()
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    """Confirm with the password, then delete the account and sign out."""
    user = request.user
    form = DeleteAccountForm(request.POST or None, user=user)
    blockers = services.deletion_blockers(user=user)
    too_many_tries = False
    if request.method == "POST" and not blockers:
        key = str(user.pk)
        if ratelimit.reached("account-delete", key, limit=DELETE_ATTEMPTS):
            too_many_tries = True  # check no password
            form = DeleteAccountForm(user=user)
        elif form.is_valid():
            try:
                services.delete_account(user=user)
            except services.AccountNotDeletable as exc:
                blockers = exc.reasons
            else:
                logout(request)
                messages.success(
                    request,
                    _("Your account has been deleted. We have emailed you a confirmation."),
                )
                return redirect("shop:home")
        else:
            ratelimit.hit("account-delete", key, limit=DELETE_ATTEMPTS, seconds=DELETE_WINDOW)
    context = {"form": form, "blockers": blockers, "too_many_tries": too_many_tries}
    return render(
        request, "accounts/your_data_delete.html", context, status=429 if too_many_tries else 200
    )


def staff_login(request: HttpRequest) -> HttpResponse:
    """The staff login (Django admin's), with failed attempts limited.

    Failures are counted per client address and per client and account,
    so a stranger's guesses lock out only the stranger: never another
    client, and never a member of staff signing in from elsewhere.
    """
    from django.contrib import admin

    address = client_ip(request) or UNKNOWN_CLIENT
    account = f"{address}|{(request.POST.get('username') or '').strip().lower()[:254]}"
    limits = (
        ("staff-login", address, settings.STAFF_LOGIN_FAILURES_PER_CLIENT),
        ("staff-login-account", account, settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT),
    )
    if request.method == "POST" and any(
        ratelimit.reached(action, key, limit=limit) for action, key, limit in limits
    ):
        request.method = "GET"  # show the empty form; check no password
        response = admin.site.login(
            request,
            extra_context={
                "too_many_tries": _(
                    "Too many failed sign-ins from here. Please wait a few minutes and try again."
                )
            },
        )
        response.status_code = 429
        return response
    response = admin.site.login(request)
    if request.method == "POST" and response.status_code == 200:  # the form came back: failed
        for action, key, limit in limits:
            ratelimit.hit(action, key, limit=limit, seconds=settings.STAFF_LOGIN_WINDOW_SECONDS)
    return response
