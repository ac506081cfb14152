"""Background work of payments (django-tasks, run by the ``worker`` process)."""

from django_tasks import task

from . import services


@task()
def reconcile_attempt_task(attempt_id: int) -> str:
    """STK-query a pending push; enqueue the next query while it stays pending."""
    next_at = services.reconcile_attempt(attempt_id=attempt_id)
    if next_at is not None:
        reconcile_attempt_task.using(run_after=next_at).enqueue(attempt_id)
        return f"pending, next query at {next_at.isoformat()}"
    return "done"
