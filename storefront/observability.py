"""Probes, request timing and request metrics: the two middlewares at the top of MIDDLEWARE.

``ProbeMiddleware`` (first) answers the load balancer's and Prometheus'
requests before anything else sees them, so no ``ALLOWED_HOSTS`` check (a
probe comes with whatever Host the balancer sends, often the pod's
address), no HTTPS redirect, no session and no cache header gets in the
way:

- ``/healthz``: 200 ``ok``, the process answers; touches nothing.
- ``/readyz``: the checks of ``storefront.health.readyz`` (database,
  migrations, cache, worker heartbeat).
- ``/metrics`` with an ``Authorization`` header: ``storefront.metrics``
  checks the bearer token. Staff without a token come through the normal
  stack (they need their session) to the same view.

``RequestTimingMiddleware`` (second) times every other request: the
``Server-Timing`` header (``SERVER_TIMING``: total and SQL time, and the
number of queries, over every database alias), the per-process request
histogram (``METRICS_ENABLED``), a request id (``X-Request-ID`` from the
proxy when it looks like one, else a new one; sent back and put on every
log line of the request) and, with ``ACCESS_LOG``, one log line per
request. With all of them off (``OBSERVABILITY=0``) it removes itself.
"""

import logging
import re
import time
import uuid
from contextlib import ExitStack

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.http import HttpRequest, HttpResponse

from storefront.logging import request_id

access_log = logging.getLogger("storefront.access")

#: Paths answered by ProbeMiddleware whatever the Host (see SECURE_REDIRECT_EXEMPT too).
HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"

#: HTTP methods kept as a metric label; anything else is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def no_store(response: HttpResponse) -> HttpResponse:
    """Mark *response* as never to be kept by a browser, proxy or CDN."""
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """Say the process answers: 200 ``ok``, nothing else looked at."""
    return no_store(HttpResponse(b"ok\n", content_type="text/plain"))


class ProbeMiddleware:
    """Answer /healthz, /readyz and token scrapes of /metrics before any other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path == HEALTHZ:
            return healthz(request)
        if path == READYZ:
            from storefront.health import readyz

            return readyz(request)
        if path == METRICS and "HTTP_AUTHORIZATION" in request.META:
            from storefront.metrics import metrics

            return metrics(request)
        return self.get_response(request)


class QueryTimer:
    """An execute wrapper that adds up the time and number of SQL queries."""

    __slots__ = ("count", "seconds")

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


def _request_metric():
    from storefront.metrics import REQUEST_DURATION

    return REQUEST_DURATION


class RequestTimingMiddleware:
    """Time each request: Server-Timing, request metrics, request id, access log."""

    def __init__(self, get_response):
        self.server_timing = settings.SERVER_TIMING
        self.metrics = settings.METRICS_ENABLED
        self.access_log = settings.ACCESS_LOG
        if not (self.server_timing or self.metrics or self.access_log):
            raise MiddlewareNotUsed("SERVER_TIMING, METRICS_ENABLED and ACCESS_LOG are off")
        self.get_response = get_response
        self.duration = _request_metric() if self.metrics else None
        self.aliases = list(settings.DATABASES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        rid = request.META.get("HTTP_X_REQUEST_ID", "")
        if not _REQUEST_ID.fullmatch(rid):
            rid = uuid.uuid4().hex
        token = request_id.set(rid)
        timer = QueryTimer()
        try:
            with ExitStack() as stack:
                for alias in self.aliases:
                    stack.enter_context(connections[alias].execute_wrapper(timer))
                response = self.get_response(request)
        finally:
            request_id.reset(token)
        elapsed = time.perf_counter() - start
        response.headers.setdefault("X-Request-ID", rid)
        if self.server_timing:
            response["Server-Timing"] = (
                f"total;dur={elapsed * 1000:.1f}, "
                f'sql;dur={timer.seconds * 1000:.1f};desc="{timer.count} queries"'
            )
        if self.duration is not None:
            match = request.resolver_match
            method = request.method if request.method in METHODS else "other"
            self.duration.labels(
                match.view_name if match is not None else "<none>",
                method,
                str(response.status_code),
            ).observe(elapsed)
        if self.access_log:
            access_log.info(
                "%s %s %s %.1fms %d queries",
                request.method,
                request.get_full_path(),
                response.status_code,
                elapsed * 1000,
                timer.count,
                extra={"request_id": rid, "duration_ms": round(elapsed * 1000, 1)},
            )
        return response
