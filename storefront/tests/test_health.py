"""/healthz and /readyz: what the balancer asks, answered whatever the Host."""

import sys
from datetime import timedelta
from types import ModuleType

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from storefront import health

#: A Host no ALLOWED_HOSTS lists: a Kubernetes probe sends the pod's address.
POD = "10.244.3.17:8000"


@pytest.fixture
def production(settings):
    """HTTPS redirect and HSTS on, as in production."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    return settings


@pytest.fixture(autouse=True)
def _fresh_migration_check():
    health.forget_migrations()
    yield
    health.forget_migrations()


def test_healthz_answers_any_host_over_http_without_the_database(production):
    """200 "ok", not cached, no redirect, no cookie, and no query (no database access allowed)."""
    client = Client()
    response = client.get("/healthz", HTTP_HOST=POD)
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies
    assert "Vary" not in response


def test_other_pages_are_still_refused_to_a_foreign_host_and_redirected(production):
    """The probes' exemption is theirs alone: the rest of the shop keeps its checks."""
    client = Client()
    assert client.get("/robots.txt", HTTP_HOST=POD).status_code == 400
    redirect = client.get("/robots.txt")
    assert redirect.status_code == 301
    assert redirect["Location"].startswith("https://")


def test_probes_are_exempt_from_the_https_redirect_in_settings_too(settings):
    """Behind a proxy that skips our middleware order, SecurityMiddleware still lets them by."""
    from django.middleware.security import SecurityMiddleware
    from django.test import RequestFactory

    settings.SECURE_SSL_REDIRECT = True
    middleware = SecurityMiddleware(lambda request: None)
    for path in ("/healthz", "/readyz"):
        assert middleware.process_request(RequestFactory().get(path)) is None
    assert middleware.process_request(RequestFactory().get("/")).status_code == 301


@pytest.mark.django_db
def test_readyz_says_ok_with_each_check_and_its_timing(production):
    response = Client().get("/readyz", HTTP_HOST=POD)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["cache:default"]["ok"] is True
    assert all(isinstance(check["ms"], float) for check in body["checks"].values())
    assert body["status"] in ("ok", "degraded")  # the worker's heartbeat, see below


@pytest.mark.django_db
def test_readyz_remembers_applied_migrations_after_the_first_success():
    """The migration plan (a read of django_migrations) is computed once per process."""
    client = Client()
    with CaptureQueriesContext(connection) as first:
        assert client.get("/readyz").status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get("/readyz").status_code == 200
    assert any("django_migrations" in q["sql"] for q in first.captured_queries)
    assert not any("django_migrations" in q["sql"] for q in second.captured_queries)
    assert len(second.captured_queries) <= 2  # SELECT 1 and the worker's heartbeat


@pytest.mark.django_db
def test_readyz_fails_while_a_migration_is_not_applied():
    """503 until the release step has migrated: this process must not take traffic."""
    latest = MigrationRecorder.Migration.objects.filter(app="shop").order_by("-id").first()
    latest.delete()  # rolled back with the test
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["migrations"] == {
        "ok": False,
        "error": "1 migration(s) not applied",
        "ms": body["checks"]["migrations"]["ms"],
    }
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_reports_a_cache_that_is_down_but_stays_ready(settings):
    """The shop fails open without Redis: 200, "degraded", the error's class only."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache:default"]["ok"] is False
    assert body["checks"]["cache:default"]["error"] == "ConnectionError"
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_checks_a_real_redis(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": "storefront-test-readyz",
        },
    }
    from django.core.cache import cache

    try:
        cache.get("ping")
    except Exception:  # noqa: BLE001 - any failure means no Redis here
        pytest.skip("no Redis on 127.0.0.1:6379 (the project's machines run one)")
    body = Client().get("/readyz").json()
    assert body["checks"]["cache:default"]["ok"] is True


def heartbeat_module(monkeypatch, beat):
    """Stand in for shop.jobs (written elsewhere) with a heartbeat *beat*."""
    module = ModuleType("shop.jobs")
    module.worker_heartbeat = lambda: beat
    monkeypatch.setitem(sys.modules, "shop.jobs", module)


@pytest.mark.django_db
def test_readyz_without_a_heartbeat_function_says_unknown(monkeypatch):
    monkeypatch.setitem(sys.modules, "shop.jobs", None)  # the import fails
    body = Client().get("/readyz").json()
    assert body["checks"]["worker"]["ok"] is None
    assert body["status"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("age", "ok"), [(timedelta(seconds=20), True), (timedelta(minutes=20), False), (None, False)]
)
def test_readyz_reports_a_stale_worker_as_degraded_not_unready(monkeypatch, settings, age, ok):
    """A web pod stays in the balancer when the worker is down; the body says so."""
    settings.WORKER_DEAD_AFTER_SECONDS = 300
    heartbeat_module(monkeypatch, None if age is None else timezone.now() - age)
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["worker"]["ok"] is ok
    assert body["status"] == ("ok" if ok else "degraded")


@pytest.mark.django_db
def test_readyz_counts_a_failing_heartbeat_as_a_worker_problem(monkeypatch):
    module = ModuleType("shop.jobs")

    def worker_heartbeat():
        raise RuntimeError("boom")

    module.worker_heartbeat = worker_heartbeat
    monkeypatch.setitem(sys.modules, "shop.jobs", module)
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"] == {
        "ok": False,
        "error": "RuntimeError",
        "ms": response.json()["checks"]["worker"]["ms"],
    }


@pytest.mark.django_db
def test_the_probes_are_routed_urls_too(settings):
    """Without the middleware (another MIDDLEWARE, a test) the same views answer."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("ProbeMiddleware")]
    client = Client()
    assert client.get("/healthz").content == b"ok\n"
    assert client.get("/readyz").json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_reports_redis_down_for_the_shops_own_caches(settings):
    """Both caches fail open or fall back, so only a direct ping tells; readiness stays."""
    from tests.support.redis import redis_server

    with redis_server() as server:
        settings.CACHES = {
            alias: {
                "BACKEND": "storefront.cache.ResilientRedisCache",
                "LOCATION": server.url,
                "OPTIONS": {"FALLBACK": fallback},
            }
            for alias, fallback in (("default", "none"), ("ratelimit", "local"))
        }
        body = Client().get("/readyz").json()
        assert body["checks"]["cache:default"]["ok"] is True
        assert body["checks"]["cache:ratelimit"]["ok"] is True
        server.stop()
        response = Client().get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["cache:default"]["ok"] is False
        assert body["checks"]["cache:ratelimit"]["ok"] is False
