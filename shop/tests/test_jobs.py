"""Background work: retries with backoff, the reaper, the scheduler's slots.

Tasks run here as the worker runs them (``HeartbeatWorker.run_task``: claim,
call, record the outcome); mail goes to a real SMTP server on a loopback
port (tests/support/smtp.py), down until a test starts it.
"""

import logging
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tasks import send_welcome_email
from accounts.tests.factories import UserFactory
from shop import jobs
from shop.management.commands.worker import HeartbeatWorker
from shop.models import JobRun, ProductVariant, WorkerHeartbeat
from shop.tasks import send_low_stock_report, send_order_email
from storefront.jobs import backoff_seconds, given_up_count
from tests.support.smtp import SmtpServer

from .factories import make_product
from .threads import run_in_threads

pytestmark = pytest.mark.django_db

NAIROBI = ZoneInfo("Africa/Nairobi")
REPORT = "shop.tasks.send_low_stock_report"


@pytest.fixture
def smtp(settings):
    """A mail server that is down until the test calls ``smtp.start()``."""
    server = SmtpServer()
    for name, value in server.settings().items():
        setattr(settings, name, value)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.TASK_RETRY_BASE_SECONDS = 0.2
    settings.TASK_RETRY_MAX_SECONDS = 0.5
    yield server
    server.stop()


def run_ready_tasks() -> list[DBTaskResult]:
    """Run every task due now, one at a time, as a worker does; return them."""
    worker = HeartbeatWorker(
        heartbeat=1,
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = []
    while (row := DBTaskResult.objects.ready().first()) is not None:
        row.claim(worker.worker_id)
        worker.run_task(row)
        row.refresh_from_db()
        ran.append(row)
    return ran


def wait_until_due(row: DBTaskResult) -> None:
    if row.task.run_after is not None:  # None: due at once
        time.sleep(max(0, (row.run_after - timezone.now()).total_seconds()) + 0.01)


def low_variant() -> ProductVariant:
    variant = make_product(stock=1, image=False).variants.get()
    UserFactory(email="stock@duka.test", is_staff=True)
    return variant


# Retries -----------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap(settings):
    settings.TASK_RETRY_BASE_SECONDS = 60
    settings.TASK_RETRY_MAX_SECONDS = 3600
    assert [backoff_seconds(n) for n in range(1, 9)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


def test_an_email_is_tried_again_later_and_sent_when_the_mail_server_is_back(smtp):
    user = UserFactory(email="amina@example.com")
    send_welcome_email.enqueue(user.pk)

    (failed,) = run_ready_tasks()
    assert failed.status == "FAILED"
    assert failed.exception_class_path == "storefront.jobs.Retrying"
    assert "ConnectionRefusedError" in failed.traceback  # the cause, chained
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.task_path == "accounts.tasks.send_welcome_email"
    assert retry.args_kwargs == {"args": [user.pk], "kwargs": {"retry_attempt": 2}}
    assert retry.run_after > failed.finished_at  # later, not at once
    assert run_ready_tasks() == []  # not due yet

    smtp.start()
    wait_until_due(retry)
    (sent,) = run_ready_tasks()

    assert sent.pk == retry.pk and sent.status == "SUCCESSFUL"
    (message,) = smtp.wait_for(1)
    assert "To: amina@example.com" in message
    assert given_up_count() == 0


def test_a_task_gives_up_after_its_attempts_and_is_counted(smtp, settings, caplog):
    settings.TASK_RETRY_ATTEMPTS = 3
    low_variant()
    send_low_stock_report.enqueue()
    outcomes = []
    with caplog.at_level(logging.WARNING, logger="storefront.jobs"):
        while (waiting := DBTaskResult.objects.filter(status="READY").first()) is not None:
            wait_until_due(waiting)
            outcomes += [row.exception_class_path for row in run_ready_tasks()]

    assert outcomes == ["storefront.jobs.Retrying"] * 2 + ["storefront.jobs.RetriesExhausted"]
    attempts = DBTaskResult.objects.order_by("enqueued_at").values_list(
        "args_kwargs__kwargs", flat=True
    )
    assert list(attempts) == [{}, {"retry_attempt": 2}, {"retry_attempt": 3}]
    assert given_up_count() == 1
    assert given_up_count(since=timezone.now()) == 0
    assert "gave up after 3 attempts" in caplog.text


def test_an_error_that_would_repeat_is_not_retried(smtp):
    send_order_email.enqueue(10**9, "received")  # no such order
    (failed,) = run_ready_tasks()
    assert failed.exception_class_path == "shop.models.orders.Order.DoesNotExist"
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_a_report_that_failed_does_not_stop_the_next_days(smtp):
    """SMTP down at seven on day one; the retry and day two's report both go out."""
    low_variant()
    day_one = datetime(2026, 3, 2, 7, 0, 5, tzinfo=NAIROBI)
    jobs.queue_due_jobs(now=day_one)
    DBTaskResult.objects.exclude(task_path=REPORT).delete()  # only the report matters here
    (failed,) = run_ready_tasks()
    assert failed.exception_class_path == "storefront.jobs.Retrying"

    smtp.start()
    wait_until_due(DBTaskResult.objects.get(status="READY"))
    (retried,) = run_ready_tasks()
    assert retried.status == "SUCCESSFUL" and len(smtp.wait_for(1)) == 1

    jobs.queue_due_jobs(now=day_one + timedelta(hours=12))  # later that day: nothing new
    assert not DBTaskResult.objects.filter(status="READY", task_path=REPORT).exists()
    jobs.queue_due_jobs(now=day_one + timedelta(days=1))
    DBTaskResult.objects.filter(status="READY").exclude(task_path=REPORT).delete()
    (next_day,) = run_ready_tasks()
    assert next_day.status == "SUCCESSFUL" and len(smtp.wait_for(2)) == 2
    runs = JobRun.objects.filter(job="low-stock-report").order_by("slot")
    assert [run.slot for run in runs] == [
        datetime(2026, 3, 2, 7, tzinfo=NAIROBI),
        datetime(2026, 3, 3, 7, tzinfo=NAIROBI),
    ]


# The scheduler's slots ---------------------------------------------------------


def test_each_slot_is_queued_once_and_a_missed_one_is_caught_up_once(settings):
    settings.EXPIRE_ORDERS_EVERY_SECONDS = 300
    start = datetime(2026, 3, 2, 6, 58, tzinfo=NAIROBI)
    first = jobs.queue_due_jobs(now=start, claimed_by="a")
    assert {run.job for run in first} == {j.name for j in jobs.scheduled_jobs()}
    assert jobs.queue_due_jobs(now=start + timedelta(seconds=30), claimed_by="b") == []

    # Down from 07:00 to 10:01 on day three: one report (day three's), one sweep.
    back = datetime(2026, 3, 4, 10, 1, tzinfo=NAIROBI)
    caught_up = jobs.queue_due_jobs(now=back, claimed_by="a")
    assert len(jobs.queue_due_jobs(now=back, claimed_by="b")) == 0
    slots = {run.job: timezone.localtime(run.slot) for run in caught_up}
    assert slots["low-stock-report"] == datetime(2026, 3, 4, 7, tzinfo=NAIROBI)
    assert slots["expire-orders"] == datetime(2026, 3, 4, 10, 0, tzinfo=NAIROBI)
    assert JobRun.objects.filter(job="low-stock-report").count() == 2
    for run in JobRun.objects.all():
        assert DBTaskResult.objects.filter(pk=run.task_id).count() == 1
    assert DBTaskResult.objects.count() == JobRun.objects.count()


@pytest.mark.django_db(transaction=True)
def test_schedulers_racing_for_the_same_slots_queue_each_once():
    """Four at the same instant: the (job, slot) insert lets one of them have each slot."""
    now = timezone.now()
    results = run_in_threads(
        *[lambda name=name: jobs.queue_due_jobs(now=now, claimed_by=name) for name in "abcd"]
    )
    assert not [r for r in results if isinstance(r, Exception)]
    claimed = sorted(run.job for runs in results for run in runs)
    assert claimed == sorted(job.name for job in jobs.scheduled_jobs())
    assert JobRun.objects.count() == DBTaskResult.objects.count() == len(claimed)


def test_a_job_that_cannot_be_queued_stops_neither_the_others_nor_its_next_slot(settings, caplog):
    settings.LOW_STOCK_REPORT_HOUR = 25  # a broken setting: no such hour
    now = datetime(2026, 3, 2, 9, 0, tzinfo=NAIROBI)
    with caplog.at_level(logging.ERROR, logger="shop.jobs"):
        runs = jobs.queue_due_jobs(now=now)
    assert "low-stock-report" not in {run.job for run in runs} and len(runs) == 4
    assert "Could not queue job low-stock-report" in caplog.text

    settings.LOW_STOCK_REPORT_HOUR = 7
    (report,) = jobs.queue_due_jobs(now=now + timedelta(seconds=15))
    assert report.job == "low-stock-report"


def test_a_failing_job_task_does_not_stop_its_later_runs(settings, smtp):
    settings.TASK_RETRY_ATTEMPTS = 1
    low_variant()
    day = datetime(2026, 3, 2, 7, 30, tzinfo=NAIROBI)
    jobs.queue_due_jobs(now=day)
    assert {r.status for r in run_ready_tasks() if r.task_path == REPORT} == {"FAILED"}
    smtp.start()
    jobs.queue_due_jobs(now=day + timedelta(days=1))
    assert {r.status for r in run_ready_tasks() if r.task_path == REPORT} == {"SUCCESSFUL"}


def test_schedule_jobs_drops_an_old_style_report_and_keeps_the_schedulers(capsys):
    old = send_low_stock_report.using(run_after=timezone.now() + timedelta(hours=3)).enqueue()
    (run,) = [r for r in jobs.queue_due_jobs() if r.job == "low-stock-report"]
    call_command("schedule_jobs")
    call_command("schedule_jobs")
    out = capsys.readouterr().out
    assert "Removed 1 low-stock report(s) queued the old way." in out
    assert "low-stock-report: daily at 07:00" in out
    reports = DBTaskResult.objects.filter(task_path=REPORT)
    assert [str(r.pk) for r in reports] == [run.task_id] and old.id != run.task_id


# The reaper ---------------------------------------------------------------------


def running(worker_id: str, *, started: datetime, runs: int = 1) -> DBTaskResult:
    row = send_low_stock_report.enqueue().db_result
    DBTaskResult.objects.filter(pk=row.pk).update(
        status="RUNNING",
        started_at=started,
        worker_ids=[f"earlier-{n}" for n in range(runs - 1)] + [worker_id],
    )
    return DBTaskResult.objects.get(pk=row.pk)


def test_the_reaper_puts_back_only_the_tasks_of_dead_workers(settings):
    settings.WORKER_DEAD_AFTER_SECONDS = 60
    settings.TASK_MAX_RUNNING_SECONDS = 3600
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="alive", beat_at=now - timedelta(seconds=5))
    WorkerHeartbeat.objects.create(worker_id="dead", beat_at=now - timedelta(seconds=90))
    busy = running("alive", started=now - timedelta(minutes=30))
    lost = running("dead", started=now - timedelta(minutes=2))
    unknown_new = running("gone", started=now - timedelta(seconds=10))
    unknown_old = running("gone", started=now - timedelta(minutes=5))
    stuck = running("alive", started=now - timedelta(hours=2))
    cursed = running("dead", started=now - timedelta(minutes=2), runs=4)

    reaped = jobs.reap_lost_tasks(now=now)

    assert sorted(reaped) == sorted(str(r.pk) for r in (lost, unknown_old, stuck, cursed))
    status = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert status[busy.pk] == status[unknown_new.pk] == "RUNNING"
    assert status[lost.pk] == status[unknown_old.pk] == status[stuck.pk] == "READY"
    assert "worker dead last beat at" in DBTaskResult.objects.get(pk=lost.pk).traceback
    assert "longer than TASK_MAX_RUNNING_SECONDS" in DBTaskResult.objects.get(pk=stuck.pk).traceback
    cursed.refresh_from_db()
    assert cursed.status == "FAILED" and cursed.exception_class_path == "shop.jobs.WorkerLost"
    assert jobs.reap_lost_tasks(now=now) == []  # done once


def test_health_readings_for_other_code(settings):
    assert jobs.worker_heartbeat() is None and jobs.queue_depth() == 0
    newest = timezone.now() - timedelta(seconds=3)
    WorkerHeartbeat.objects.create(worker_id="a", beat_at=newest - timedelta(seconds=20))
    WorkerHeartbeat.objects.create(worker_id="b", beat_at=newest)
    send_low_stock_report.enqueue()
    send_low_stock_report.using(run_after=timezone.now() + timedelta(hours=1)).enqueue()
    assert jobs.worker_heartbeat() == newest
    assert jobs.queue_depth() == 1  # the deferred one isn't due


def test_pruning_keeps_two_weeks(settings):
    settings.TASK_RESULTS_KEEP_DAYS = 14
    old, recent, waiting = (send_low_stock_report.enqueue().db_result for _ in range(3))
    now = timezone.now()
    DBTaskResult.objects.filter(pk=old.pk).update(
        status="SUCCESSFUL", finished_at=now - timedelta(days=15)
    )
    DBTaskResult.objects.filter(pk=recent.pk).update(
        status="FAILED", finished_at=now - timedelta(days=13)
    )
    JobRun.objects.create(
        job="expire-orders", slot=now - timedelta(days=20), claimed_at=now - timedelta(days=20)
    )
    assert jobs.prune_finished_work.call() == 1
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not JobRun.objects.exists()
