"""Background work of payments (django-tasks, run by the ``worker`` process)."""

from django.db import DatabaseError
from django_tasks import task

from storefront import jobs

from . import services
from .exceptions import DarajaError


@task()
@jobs.retry(on=(DarajaError, DatabaseError, OSError))
def reconcile_attempt_task(attempt_id: int) -> str:
    """STK-query a pending push; enqueue the next query while it stays pending.

    Daraja not answering is the service's business (it asks again on its own
    backoff); an error that escapes it (the database busy, say) queues this
    task again with the shared retry backoff, so the chain of queries never
    stops. Applying an answer is idempotent: a re-run changes nothing.
    """
    next_at = services.reconcile_attempt(attempt_id=attempt_id)
    if next_at is not None:
        reconcile_attempt_task.using(run_after=next_at).enqueue(attempt_id)
        return f"pending, next query at {next_at.isoformat()}"
    return "done"


@task()
@jobs.retry(on=(DatabaseError,))
def reconcile_due_attempts_task() -> int:
    """STK-query every pending push whose query is due (the scheduler's sweep)."""
    return services.reconcile_due_attempts()
