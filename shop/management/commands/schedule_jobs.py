"""Queue the shop's recurring jobs once (safe to run on every deploy)."""

from django.core.management.base import BaseCommand
from django_tasks_db.models import DBTaskResult

from shop.tasks import next_report_time, send_low_stock_report


class Command(BaseCommand):
    help = "Queue the daily low-stock report unless one is already waiting."

    def handle(self, *args, **options):
        waiting = DBTaskResult.objects.filter(
            task_path="shop.tasks.send_low_stock_report", status="READY"
        ).exists()
        if waiting:
            self.stdout.write("The low-stock report is already queued.")
            return
        when = next_report_time()
        send_low_stock_report.using(run_after=when).enqueue()
        self.stdout.write(f"Queued the low-stock report for {when:%Y-%m-%d %H:%M}.")
