"""Workers and schedulers as real processes on the test database.

``manage.py worker`` and ``manage.py scheduler`` run as subprocesses that
share the test database (the SQLite test file, or PostgreSQL's test
database), so the data is committed (``transactional_db``). Intervals are
shortened through the environment; each test takes a few seconds.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tests.factories import UserFactory
from shop import jobs, services
from shop.models import Cart, CartLine, JobRun, Order, OrderEvent, ProductVariant, WorkerHeartbeat
from shop.services import DeliveryAddress
from shop.tests.factories import make_product
from tests.support.smtp import SmtpServer
from tests.support.worker_tasks import hold

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)


def database_url() -> str:
    """The test database as a DATABASE_URL another process can open."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


class Processes:
    """Start manage.py commands on the test database; stop them all at the end."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder = folder
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CONN_MAX_AGE": "0",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.started: list[subprocess.Popen] = []
        self.logs: list = []

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("w")
        self.logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "manage.py", *command, "--skip-checks"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.name = name
        self.started.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self.start(
            name,
            "worker",
            "--worker-id",
            name,
            "--interval",
            "0.1",
            "--heartbeat",
            "0.2",
            "--no-startup-delay",
        )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for log in self.logs:
            log.close()


@pytest.fixture
def processes(tmp_path):
    made = []

    def make(**env) -> Processes:
        made.append(Processes(tmp_path, {k: str(v) for k, v in env.items()}))
        return made[-1]

    yield make
    for group in made:
        group.stop_all()


def wait_for(predicate, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_task_whose_worker_is_killed_is_put_back_and_finished_by_another(
    processes, tmp_path, settings
):
    settings.WORKER_DEAD_AFTER_SECONDS = 1.5
    row = hold.enqueue(str(tmp_path), "order-42").db_result
    group = processes()
    first = group.worker("worker-a")
    wait_for(lambda: lines(tmp_path / "started") == ["order-42"], what="the task to start")
    assert WorkerHeartbeat.objects.filter(worker_id="worker-a").exists()

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    row.refresh_from_db()
    assert row.status == "RUNNING" and row.worker_ids == ["worker-a"]
    assert jobs.reap_lost_tasks() == []  # its last heartbeat is still recent

    wait_for(lambda: jobs.reap_lost_tasks() == [str(row.pk)], timeout=10, what="the reaper")
    row.refresh_from_db()
    assert row.status == "READY" and "worker worker-a last beat at" in row.traceback

    (tmp_path / "go").touch()
    second = group.worker("worker-b")
    wait_for(
        lambda: DBTaskResult.objects.get(pk=row.pk).status == "SUCCESSFUL",
        what="the second worker to finish it",
    )
    row.refresh_from_db()
    assert row.worker_ids == ["worker-a", "worker-b"] and row.return_value == "order-42"
    assert lines(tmp_path / "started") == ["order-42", "order-42"]
    assert lines(tmp_path / "done") == ["order-42"]

    second.send_signal(signal.SIGTERM)  # a clean stop forgets its heartbeat
    assert second.wait(timeout=10) == 0
    assert not WorkerHeartbeat.objects.filter(worker_id="worker-b").exists()
    assert WorkerHeartbeat.objects.filter(worker_id="worker-a").exists()  # died: left behind


def test_sigterm_lets_the_running_task_finish(processes, tmp_path):
    row = hold.enqueue(str(tmp_path), "parcel").db_result
    worker = processes().worker("worker-c")
    wait_for(lambda: lines(tmp_path / "started") == ["parcel"], what="the task to start")
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert worker.poll() is None  # still finishing the task
    (tmp_path / "go").touch()
    assert worker.wait(timeout=10) == 0
    row.refresh_from_db()
    assert row.status == "SUCCESSFUL" and lines(tmp_path / "done") == ["parcel"]


def overdue_order() -> tuple[Order, ProductVariant]:
    variant = make_product(stock=5, image=False).variants.get()
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant, quantity=2, price_when_added=variant.price)
    order = services.place_order(
        cart=cart,
        email="amina@example.com",
        phone="254712345678",
        address=DeliveryAddress(
            recipient_name="Amina Wanjiru",
            phone="0712345678",
            county="Nairobi",
            town="Westlands",
            street="Mpaka Road",
        ),
        now=timezone.now() - timedelta(minutes=settings.ORDER_PAYMENT_MINUTES + 1),
    )
    return order, variant


def test_two_schedulers_and_two_workers_run_every_due_job_exactly_once(processes, tmp_path):
    smtp = SmtpServer().start()
    try:
        order, variant = overdue_order()
        low = make_product(stock=1, image=False).variants.get()
        UserFactory(email="stock@duka.test", is_staff=True)
        DBTaskResult.objects.all().delete()  # leave the order's expiry to the sweep
        group = processes(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=smtp.port,
            EMAIL_USE_TLS=0,
            EXPIRE_ORDERS_EVERY_SECONDS=1,
            RECONCILE_PAYMENTS_EVERY_SECONDS=2,
        )
        for name in ("scheduler-1", "scheduler-2"):
            group.start(name, "scheduler", "--tick", "0.1")
        workers = [group.worker("worker-1"), group.worker("worker-2")]
        wait_for(
            lambda: JobRun.objects.filter(job="expire-orders").count() >= 4,
            what="four expiry sweeps",
        )
        for scheduler in group.started[:2]:
            scheduler.send_signal(signal.SIGTERM)
            assert scheduler.wait(timeout=10) == 0
        wait_for(
            lambda: not DBTaskResult.objects.exclude(status__in=["SUCCESSFUL", "FAILED"]).exists(),
            what="the workers to empty the queue",
        )
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
    finally:
        smtp.stop()

    runs = list(JobRun.objects.all())
    per_job = Counter(run.job for run in runs)
    assert per_job["low-stock-report"] == per_job["clear-sessions"] == 1
    assert per_job["prune-task-results"] == 1 and per_job["reconcile-payments"] >= 1
    sweeps = sorted(run.slot for run in runs if run.job == "expire-orders")
    assert len(set(sweeps)) == len(sweeps) >= 4
    # Each run queued exactly one task, which ran once, on one worker.
    results = {str(r.pk): r for r in DBTaskResult.objects.all()}
    assert sorted(results) == sorted(run.task_id for run in runs)
    for result in results.values():
        assert result.status == "SUCCESSFUL", (result.task_path, result.traceback)
        assert len(result.worker_ids) == 1
    # Side effects: one report, one expiry with its stock released once.
    reports = [m for m in smtp.messages if "Low stock" in m]
    assert len(reports) == 1 and low.sku in reports[0]
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.EXPIRED).count() == 1
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (5, 0)
