"""Background work's own records: workers' heartbeats and the scheduler's job runs."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """A running ``manage.py worker``: it updates ``beat_at`` while it lives.

    The row goes when the worker stops cleanly; a worker killed outright
    leaves it behind, going stale, and the scheduler's reaper puts the task
    it was running back in the queue.
    """

    worker_id = models.CharField(_("worker id"), max_length=64, unique=True)
    hostname = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    beat_at = models.DateTimeField(_("last heartbeat"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.hostname} (pid {self.pid})"


class JobRun(models.Model):
    """One slot of a periodic job, claimed by the scheduler that inserted it.

    The unique (job, slot) pair is the claim: two schedulers both due to
    queue the same run race on the insert, and the loser queues nothing.
    """

    job = models.CharField(_("job"), max_length=64)
    slot = models.DateTimeField(_("slot"), help_text=_("The time this run was due."))
    claimed_at = models.DateTimeField(_("queued at"), default=timezone.now, db_index=True)
    claimed_by = models.CharField(_("queued by"), max_length=128, blank=True)
    task_id = models.CharField(_("task result"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-slot", "job"]
        constraints = [
            models.UniqueConstraint(fields=["job", "slot"], name="one_run_per_job_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.job} at {self.slot:%Y-%m-%d %H:%M:%S}"
