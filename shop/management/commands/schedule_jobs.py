"""Say what the scheduler runs; drop the report older releases queued themselves."""

from django.core.management.base import BaseCommand
from django_tasks_db.models import DBTaskResult

from shop import jobs
from shop.models import JobRun

REPORT = "shop.tasks.send_low_stock_report"


class Command(BaseCommand):
    help = (
        "The scheduler (manage.py scheduler) queues the recurring jobs; this lists them "
        "and removes a low-stock report left queued by an older release (safe to run on "
        "every deploy)."
    )

    def handle(self, *args, **options):
        queued_by_scheduler = (
            JobRun.objects.filter(job="low-stock-report")
            .exclude(task_id="")
            .values_list("task_id", flat=True)
        )
        stale, _ = (
            DBTaskResult.objects.filter(task_path=REPORT, status="READY")
            .exclude(id__in=list(queued_by_scheduler))
            .delete()
        )
        if stale:
            self.stdout.write(f"Removed {stale} low-stock report(s) queued the old way.")
        self.stdout.write("The scheduler (manage.py scheduler) runs these jobs:")
        for job in jobs.scheduled_jobs():
            when = f"every {job.every} s" if job.every else f"daily at {job.at_hour:02d}:00"
            self.stdout.write(f"  {job.name}: {when}")
