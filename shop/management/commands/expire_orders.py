"""Expire unpaid orders whose payment window has closed, releasing their stock."""

from django.core.management.base import BaseCommand

from shop import services


class Command(BaseCommand):
    help = (
        "Expire every unpaid order past its payment window and release its stock (the "
        "worker does this per order; run this from cron as a safety net)."
    )

    def handle(self, *args, **options):
        count = services.expire_overdue_orders()
        self.stdout.write(f"Expired {count} unpaid order(s).")
