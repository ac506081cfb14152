"""Run the scheduler: periodic jobs queued once per slot, lost tasks put back.

Every ``SCHEDULER_TICK_SECONDS`` it reaps tasks whose worker died and queues
each due job of ``shop.jobs.scheduled_jobs()`` (see shop/jobs.py). Running
two at once is safe: each slot is claimed by one of them. SIGTERM or Ctrl-C
stops it between ticks.
"""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from shop import jobs

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Queue the periodic jobs (order expiry, payment reconciliation, low-stock report, "
        "session and task clean-up) once per slot, and put back tasks whose worker died."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--tick",
            type=float,
            default=None,
            help="Seconds between rounds (default: SCHEDULER_TICK_SECONDS).",
        )
        parser.add_argument("--once", action="store_true", help="Do one round, then exit.")

    def handle(self, *args, tick: float | None, once: bool, **options) -> None:
        tick = tick or settings.SCHEDULER_TICK_SECONDS
        stop = threading.Event()

        def shut_down(signum, frame):
            logger.info("Scheduler stopping (%s)", signal.strsignal(signum))
            stop.set()

        signal.signal(signal.SIGTERM, shut_down)
        signal.signal(signal.SIGINT, shut_down)
        name = jobs.process_name()
        logger.info("Scheduler %s started, a round every %ss", name, tick)
        while not stop.is_set():
            close_old_connections()
            jobs.tick(claimed_by=name)
            close_old_connections()
            if once:
                break
            stop.wait(tick)
