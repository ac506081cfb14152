"""Retries for background tasks: one rule, used by every app's tasks.

A task whose function is wrapped with ``retry(on=...)`` and raises one of
those errors is queued again, the same task with the same arguments, to run
after a backoff that doubles each attempt::

    @task()
    @jobs.retry(on=(OSError,))
    def send_welcome_email(user_id: int) -> None: ...

The attempt number travels in the keyword ``retry_attempt`` (1 for the first
run, never passed to the function). The failed attempt's result is FAILED
with ``Retrying`` (its cause chained, so the traceback shows what went
wrong); the last one raises ``RetriesExhausted``, is logged as an error, and
``given_up_count()`` counts them. Any other error fails at once: it would
fail the same way again.

The backoff after attempt *n* is ``TASK_RETRY_BASE_SECONDS * 2 ** (n - 1)``,
at most ``TASK_RETRY_MAX_SECONDS``; ``TASK_RETRY_ATTEMPTS`` attempts in all.
"""

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

RETRY_KWARG = "retry_attempt"


class Retrying(Exception):
    """This attempt failed and the task is queued to run again."""


class RetriesExhausted(Exception):
    """The task failed its last attempt; nobody will try it again."""


def backoff_seconds(attempt: int) -> float:
    """Return how long to wait after failed attempt number *attempt* (1, 2, ...)."""
    base = settings.TASK_RETRY_BASE_SECONDS
    return min(settings.TASK_RETRY_MAX_SECONDS, base * 2 ** (attempt - 1))


def retry(*, on: tuple[type[BaseException], ...], attempts: int | None = None) -> Callable:
    """Queue the task again with backoff when it raises one of *on*.

    Put it under ``@task()``. *attempts* overrides ``TASK_RETRY_ATTEMPTS``.
    """

    def decorate(func: Callable) -> Callable:
        path = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def run(*args, retry_attempt: int = 1, **kwargs):
            try:
                return func(*args, **kwargs)
            except on as error:
                most = attempts or settings.TASK_RETRY_ATTEMPTS
                if retry_attempt >= most:
                    logger.error(
                        "%s%r gave up after %d attempts: %r", path, args, retry_attempt, error
                    )
                    raise RetriesExhausted(
                        f"gave up after {retry_attempt} attempts: {error!r}"
                    ) from error
                delay = backoff_seconds(retry_attempt)
                when = timezone.now() + timedelta(seconds=delay)
                import_string(path).using(run_after=when).enqueue(
                    *args, **kwargs, **{RETRY_KWARG: retry_attempt + 1}
                )
                logger.warning(
                    "%s%r attempt %d failed (%r); trying again at %s",
                    path,
                    args,
                    retry_attempt,
                    error,
                    when.isoformat(),
                )
                raise Retrying(
                    f"attempt {retry_attempt} failed: {error!r}; "
                    f"attempt {retry_attempt + 1} at {when.isoformat()}"
                ) from error

        return run

    return decorate


def given_up_count(since: datetime | None = None) -> int:
    """Return how many task results gave up retrying (finished *since*, if given)."""
    from django_tasks_db.models import DBTaskResult

    failed = DBTaskResult.objects.failed().filter(
        exception_class_path=f"{__name__}.{RetriesExhausted.__qualname__}"
    )
    if since is not None:
        failed = failed.filter(finished_at__gte=since)
    return failed.count()
