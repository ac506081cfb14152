"""Staff views of M-Pesa payments: read-only, since money moves only through services."""

from django.contrib import admin, messages
from django.utils import timezone

from . import services
from .models import Callback, PaymentAttempt


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FlaggedFilter(admin.SimpleListFilter):
    title = "needs review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged, not reviewed"), ("done", "Reviewed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.needing_review()
        if self.value() == "done":
            return queryset.filter(reviewed_at__isnull=False)
        return queryset


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        "order",
        "phone",
        "amount",
        "status",
        "result_code",
        "receipt_number",
        "flag",
        "reviewed_at",
    )
    list_filter = (FlaggedFilter, "status", "flag", "created")
    list_select_related = ("order",)
    search_fields = ("order__number", "phone", "checkout_request_id", "receipt_number")
    date_hierarchy = "created"
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields]
    actions = ["mark_reviewed", "query_daraja"]

    @admin.action(description="Mark the flag as reviewed")
    def mark_reviewed(self, request, queryset):
        done = queryset.needing_review().update(
            reviewed_at=timezone.now(), reviewed_by=request.user
        )
        self.message_user(request, f"{done} payment(s) marked reviewed.")

    @admin.action(description="Ask M-Pesa for the result now (STK query)")
    def query_daraja(self, request, queryset):
        pending = list(queryset.filter(status=PaymentAttempt.Status.PENDING)[:20])
        for attempt in pending:
            services.reconcile_attempt(attempt_id=attempt.pk)
        self.message_user(
            request, f"Queried {len(pending)} pending payment(s).", level=messages.INFO
        )


@admin.register(Callback)
class CallbackAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "checkout_request_id", "outcome", "remote_addr", "ip_allowed")
    list_filter = ("outcome", "ip_allowed", "received_at")
    search_fields = ("checkout_request_id", "body", "remote_addr")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in Callback._meta.fields]
    actions = ["process_again"]

    @admin.action(description="Process again (unknown or failed callbacks)")
    def process_again(self, request, queryset):
        records = list(
            queryset.filter(outcome__in=[Callback.Outcome.UNKNOWN, Callback.Outcome.ERROR])[:50]
        )
        for record in records:
            services.process_callback(record)
        self.message_user(request, f"Processed {len(records)} callback(s) again.")
