"""Ask Daraja about every pending STK push whose query is due."""

from django.core.management.base import BaseCommand

from payments import services


class Command(BaseCommand):
    help = (
        "STK-query pending M-Pesa pushes whose next query is due (the worker does this "
        "per push; run this from cron as a safety net)."
    )

    def handle(self, *args, **options):
        count = services.reconcile_due_attempts()
        self.stdout.write(f"Reconciled {count} pending payment(s).")
