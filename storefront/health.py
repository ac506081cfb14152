"""``/readyz``: may this process take traffic? (``/healthz``: storefront.observability.)

A JSON body lists each check with ``ok`` (true, false, or null when it
cannot be told), ``ms`` and, when it failed, ``error`` (the exception's
class only: the full message, which may name hosts, goes to the log):

- ``database``: every database alias answers ``SELECT 1``;
- ``migrations``: no migration left to apply (the migration plan is
  computed until it is empty once, then remembered for the process's life);
- ``cache:<alias>``: each cache stores and returns a value;
- ``worker``: the background worker's heartbeat (``shop.jobs.worker_heartbeat``)
  is at most ``WORKER_DEAD_AFTER_SECONDS`` old (the age after which the
  worker counts as dead for its own tasks too).

Only the database and migrations decide: either failing answers 503 so the
balancer stops sending traffic here. A cache or worker problem answers 200
with ``"status": "degraded"``: the shop works without Redis (it fails open)
and without the worker (tasks wait in the queue), and taking every web pod
out of the balancer because the worker is down would make things worse.
"""

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from storefront.cache import ResilientRedisCache, ping
from storefront.observability import no_store

log = logging.getLogger(__name__)

#: Checks whose failure answers 503.
CRITICAL = ("database", "migrations")

_migrations_applied = False


def forget_migrations() -> None:
    """Check the migrations again at the next probe (after a test changes them)."""
    global _migrations_applied
    _migrations_applied = False


def check_database() -> dict:
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return {"ok": True}


def check_migrations() -> dict:
    global _migrations_applied
    if _migrations_applied:
        return {"ok": True}
    from django.db.migrations.executor import MigrationExecutor

    unapplied = 0
    for alias in connections:
        executor = MigrationExecutor(connections[alias])
        unapplied += len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    if unapplied:
        return {"ok": False, "error": f"{unapplied} migration(s) not applied"}
    _migrations_applied = True
    return {"ok": True}


def check_cache(alias: str) -> dict:
    cache = caches[alias]
    if isinstance(cache, ResilientRedisCache):
        # It never raises and may answer from its fallback: ask Redis itself
        # (within the cache's half-second socket timeouts).
        if ping(alias):
            return {"ok": True}
        return {"ok": False, "error": "Redis unreachable; the shop carries on without it"}
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    found = cache.get(key)
    cache.delete(key)
    if found != "1":
        return {"ok": False, "error": "the cache did not keep a value"}
    return {"ok": True}


def check_worker() -> dict:
    try:
        from shop.jobs import worker_heartbeat
    except ImportError:
        return {"ok": None, "error": "no heartbeat to read yet (shop.jobs.worker_heartbeat)"}
    beat = worker_heartbeat()
    if beat is None:
        return {"ok": False, "error": "no heartbeat from the worker"}
    age = (timezone.now() - beat).total_seconds()
    if age > getattr(settings, "WORKER_DEAD_AFTER_SECONDS", 60):
        return {"ok": False, "age_s": round(age), "error": f"last heartbeat {round(age)} s ago"}
    return {"ok": True, "age_s": round(age)}


def _run(check, *args) -> dict:
    start = time.perf_counter()
    try:
        result = check(*args)
    except Exception as exc:
        log.warning("readyz: %s failed", check.__name__, exc_info=True)
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when this process may take traffic, 503 when it may not (see the module)."""
    checks = {"database": _run(check_database)}
    checks["migrations"] = (
        _run(check_migrations)
        if checks["database"]["ok"]
        else {"ok": None, "error": "database unreachable", "ms": 0.0}
    )
    for alias in settings.CACHES:
        checks[f"cache:{alias}"] = _run(check_cache, alias)
    checks["worker"] = _run(check_worker)
    failed = any(checks[name]["ok"] is not True for name in CRITICAL)
    if failed:
        status = "fail"
    elif any(check["ok"] is False for check in checks.values()):
        status = "degraded"
    else:
        status = "ok"  # a check that cannot be told yet (null) is not a failure
    response = JsonResponse({"status": status, "checks": checks}, status=503 if failed else 200)
    return no_store(response)
