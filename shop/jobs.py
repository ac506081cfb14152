"""Background work you can trust: heartbeats, the reaper, the scheduler's jobs.

- **Workers** (``manage.py worker``) note a heartbeat (``WorkerHeartbeat``)
  every ``WORKER_HEARTBEAT_SECONDS`` while they live.
- **The reaper** (``reap_lost_tasks``, run by the scheduler on every tick)
  puts a RUNNING task back to READY when its worker has been silent for
  ``WORKER_DEAD_AFTER_SECONDS`` or the task has run longer than
  ``TASK_MAX_RUNNING_SECONDS``, so another worker runs it; after
  ``TASK_MAX_REQUEUES`` returns it is failed instead (a task that kills its
  worker would otherwise kill them all in turn).
- **The scheduler** (``manage.py scheduler``) queues each periodic job of
  ``scheduled_jobs()`` once per slot: inserting the ``JobRun`` row for
  (job, slot) is the claim, made in the same transaction as the task's
  enqueue, so two schedulers never queue a slot twice and a claimed slot is
  always queued. Only a job's latest slot is ever due, so a scheduler that
  was down catches up a missed slot once, never a backlog.
- ``worker_heartbeat()`` and ``queue_depth()`` are for health checks and
  metrics.

Retries with backoff are one rule for every app: ``storefront/jobs.py``.
"""

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from .models import JobRun, WorkerHeartbeat

logger = logging.getLogger(__name__)

RUNNING = "RUNNING"


class WorkerLost(Exception):
    """Recorded on a task whose workers died under it too many times."""


# Heartbeats -------------------------------------------------------------------


def process_name() -> str:
    """Return ``host:pid``, naming this process in heartbeats and job runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def register_worker(worker_id: str) -> None:
    """Note that worker *worker_id* is starting (its first heartbeat)."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": now,
            "beat_at": now,
        },
    )


def beat(worker_id: str) -> None:
    """Note that worker *worker_id* is alive now."""
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(beat_at=timezone.now()):
        register_worker(worker_id)  # pruned meanwhile: it is back


def unregister_worker(worker_id: str) -> None:
    """Forget worker *worker_id*: it stopped cleanly, with no task left running."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def worker_heartbeat() -> datetime | None:
    """Return the newest heartbeat of any worker not stopped cleanly, or None.

    Older than ``WORKER_DEAD_AFTER_SECONDS`` means no worker is running.
    """
    return WorkerHeartbeat.objects.aggregate(newest=Max("beat_at"))["newest"]


def queue_depth() -> int:
    """Return how many tasks are READY and due now (waiting for a worker)."""
    return DBTaskResult.objects.ready().count()


# The reaper ---------------------------------------------------------------------


def reap_lost_tasks(*, now: datetime | None = None) -> list[str]:
    """Put back RUNNING tasks whose worker died; return their ids.

    A task is lost when its worker's heartbeat is older than
    ``WORKER_DEAD_AFTER_SECONDS`` (or the worker left none and the task
    started longer ago than that), or it has been running longer than
    ``TASK_MAX_RUNNING_SECONDS``. It goes back to READY with a note in its
    traceback field, or to FAILED (``WorkerLost``) once it has been run
    ``TASK_MAX_REQUEUES`` + 1 times. Each change is conditional on the row
    being as read, so a worker finishing meanwhile, or a second scheduler
    reaping too, wins cleanly.
    """
    now = now or timezone.now()
    silent_since = now - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    started_before = now - timedelta(seconds=settings.TASK_MAX_RUNNING_SECONDS)
    beats = dict(WorkerHeartbeat.objects.values_list("worker_id", "beat_at"))
    reaped = []
    for row in DBTaskResult.objects.running().only("id", "task_path", "worker_ids", "started_at"):
        worker = row.worker_ids[-1] if row.worker_ids else ""
        started = row.started_at or now
        last_beat = beats.get(worker)
        if last_beat is not None and last_beat < silent_since:
            why = f"worker {worker} last beat at {last_beat.isoformat()}"
        elif last_beat is None and started < silent_since:
            why = f"worker {worker} left no heartbeat"
        elif started < started_before:
            why = f"running since {started.isoformat()}, longer than TASK_MAX_RUNNING_SECONDS"
        else:
            continue
        runs = len(row.worker_ids)
        note = f"{now.isoformat()}: run {runs} lost ({why})"
        same = DBTaskResult.objects.filter(pk=row.pk, status=RUNNING, started_at=row.started_at)
        if runs > settings.TASK_MAX_REQUEUES:
            changed = same.update(
                status="FAILED",
                finished_at=now,
                exception_class_path=f"{__name__}.{WorkerLost.__qualname__}",
                traceback=f"{note}; given up after {runs} runs",
            )
            if changed:
                logger.error("Task %s (%s) failed: %s", row.pk, row.task_path, note)
        else:
            changed = same.update(status="READY", traceback=note)
            if changed:
                logger.warning(
                    "Task %s (%s) put back in the queue: %s", row.pk, row.task_path, note
                )
        if changed:
            reaped.append(str(row.pk))
    return reaped


# The scheduler's jobs ---------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A periodic job: a task queued every *every* seconds, or daily at *at_hour*."""

    name: str
    task_path: str
    every: int | None = None
    at_hour: int | None = None

    def slot(self, now: datetime) -> datetime:
        """Return the start of the slot *now* falls in (the latest due run)."""
        if self.every:
            seconds = int(now.timestamp())
            return datetime.fromtimestamp(seconds - seconds % self.every, tz=UTC)
        local = timezone.localtime(now)
        at = local.replace(hour=self.at_hour, minute=0, second=0, microsecond=0)
        return at if at <= local else at - timedelta(days=1)


def scheduled_jobs() -> list[Job]:
    """Return the periodic jobs, timed by the settings of the BACKGROUND WORK block."""
    return [
        Job(
            "expire-orders",
            "shop.tasks.expire_overdue_orders_task",
            every=settings.EXPIRE_ORDERS_EVERY_SECONDS,
        ),
        Job(
            "reconcile-payments",
            "payments.tasks.reconcile_due_attempts_task",
            every=settings.RECONCILE_PAYMENTS_EVERY_SECONDS,
        ),
        Job(
            "low-stock-report",
            "shop.tasks.send_low_stock_report",
            at_hour=settings.LOW_STOCK_REPORT_HOUR,
        ),
        Job("clear-sessions", "shop.jobs.clear_sessions", at_hour=settings.CLEAR_SESSIONS_HOUR),
        Job(
            "prune-task-results", "shop.jobs.prune_finished_work", at_hour=settings.PRUNE_TASKS_HOUR
        ),
    ]


def queue_due_jobs(*, now: datetime | None = None, claimed_by: str = "") -> list[JobRun]:
    """Queue each job whose current slot nobody has claimed; return the new runs.

    The claim and the enqueue commit together. A job that fails to queue is
    logged and left unclaimed (the next tick tries again); the others go on.
    """
    now = now or timezone.now()
    runs = []
    for job in scheduled_jobs():
        try:
            slot = job.slot(now)
            if JobRun.objects.filter(job=job.name, slot=slot).exists():
                continue
            with transaction.atomic():
                run = JobRun.objects.create(
                    job=job.name, slot=slot, claimed_at=now, claimed_by=claimed_by[:128]
                )
                result = import_string(job.task_path).enqueue()
                run.task_id = str(result.id)
                run.save(update_fields=["task_id"])
        except IntegrityError:
            logger.debug("Job %s: another scheduler claimed this slot first", job.name)
            continue
        except Exception:
            logger.exception("Could not queue job %s at %s", job.name, now.isoformat())
            continue
        logger.info("Queued job %s for %s (task %s)", job.name, slot.isoformat(), run.task_id)
        runs.append(run)
    return runs


def tick(*, now: datetime | None = None, claimed_by: str = "") -> None:
    """Do one round of the scheduler: reap lost tasks, queue due jobs.

    Neither failing stops the other, nor the scheduler.
    """
    try:
        reap_lost_tasks(now=now)
    except Exception:
        logger.exception("The reaper failed; trying again next tick")
    try:
        queue_due_jobs(now=now, claimed_by=claimed_by)
    except Exception:
        logger.exception("Queueing due jobs failed; trying again next tick")


@task()
def clear_sessions() -> None:
    """Delete expired sessions (Django's ``clearsessions``)."""
    call_command("clearsessions")


@task()
def prune_finished_work() -> int:
    """Delete task results, job runs and heartbeats older than TASK_RESULTS_KEEP_DAYS.

    Return how many task results went.
    """
    before = timezone.now() - timedelta(days=settings.TASK_RESULTS_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=before).delete()
    JobRun.objects.filter(claimed_at__lt=before).delete()
    WorkerHeartbeat.objects.filter(beat_at__lt=before).delete()
    return deleted
