"""Run a background task worker that notes a heartbeat while it lives.

django-tasks-db's worker with two additions: a thread updates this worker's
``WorkerHeartbeat`` every ``WORKER_HEARTBEAT_SECONDS`` (so the scheduler's
reaper can tell a dead worker's task from a slow one), and the row goes when
the worker stops cleanly. SIGTERM or Ctrl-C lets the running task finish,
then stops; a second one stops at once (the task is marked failed).
"""

import logging
import os
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker, valid_interval

from shop import jobs

logger = logging.getLogger("django_tasks_db")


class HeartbeatWorker(Worker):
    """django-tasks-db's ``Worker`` that beats every *heartbeat* seconds."""

    def __init__(self, *, heartbeat: float, **options) -> None:
        super().__init__(**options)
        self.heartbeat = heartbeat
        self.stopping = threading.Event()

    def run(self) -> None:
        jobs.register_worker(self.worker_id)
        beating = threading.Thread(target=self.beat, name="heartbeat", daemon=True)
        beating.start()
        try:
            super().run()
        finally:
            self.stopping.set()
            beating.join(timeout=5)
            jobs.unregister_worker(self.worker_id)
            logger.info("Worker %s stopped", self.worker_id)

    def beat(self) -> None:
        try:
            while not self.stopping.wait(self.heartbeat):
                try:
                    jobs.beat(self.worker_id)
                except DatabaseError:
                    logger.exception("Heartbeat of worker %s failed", self.worker_id)
        finally:
            connection.close()  # this thread's own connection


class Command(DbWorkerCommand):
    help = (
        "Run the background task worker (django-tasks-db's, with a heartbeat so that a "
        "task whose worker dies is run again; never reloads)."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--heartbeat",
            type=valid_interval,
            default=None,
            help="Seconds between heartbeats (default: WORKER_HEARTBEAT_SECONDS).",
        )
        parser.set_defaults(worker_id=None)

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        max_tasks: int | None,
        worker_id: str | None,
        exclude_queues: str,
        heartbeat: float | None,
        **options,
    ) -> None:
        self.configure_logging(verbosity)
        name = worker_id or (f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(8)}")
        worker = HeartbeatWorker(
            heartbeat=heartbeat or settings.WORKER_HEARTBEAT_SECONDS,
            queue_names=queue_name.split(","),
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=name,
            excluded_queue_names=exclude_queues.split(",") if exclude_queues else [],
        )
        worker.configure_signals()
        worker.run()
