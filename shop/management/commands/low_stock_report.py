"""Email staff the low-stock report now."""

from django.core.management.base import BaseCommand

from shop.tasks import send_low_stock_report


class Command(BaseCommand):
    help = "Email staff the variants at or below their low-stock threshold, now."

    def handle(self, *args, **options):
        count = send_low_stock_report.call(reschedule=False)
        self.stdout.write(f"{count} variant(s) low on stock.")
