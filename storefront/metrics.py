"""Prometheus metrics at ``/metrics``: the shop's numbers and each process's requests.

Who may read them: staff signed in, or anyone sending ``Authorization:
Bearer <METRICS_TOKEN>`` (compared in constant time; with no token set,
staff only). A wrong token gets 403, anyone else 404.

Business numbers are read from the database at scrape time, in a handful
of aggregate queries (``ShopCollector``), so they are the same whichever
gunicorn worker or instance answers, and survive restarts:

- ``storefront_orders{status}``: orders by status now;
- ``storefront_orders_placed_total``, ``storefront_orders_paid_total``:
  orders ever placed, and those paid (``paid_at`` set);
- ``storefront_mpesa_stk_pushes_total{status,result_code}``: STK pushes by
  state and Daraja's result code ("" while none came);
- ``storefront_mpesa_payments_needing_review``: attempts flagged for staff;
- ``storefront_mpesa_callback_delay_seconds``: a gauge histogram of the
  time from push to callback over the callbacks of the last hour (buckets
  go down as well as up: read it as it is, e.g. with
  ``histogram_quantile(0.9, storefront_mpesa_callback_delay_seconds_bucket)``,
  not through ``rate()``);
- ``storefront_task_queue_depth``: background tasks ready to run now;
- ``storefront_metrics_collector_up{collector}``: 0 when one of the above
  could not be read (the scrape still answers).

Per-process request metrics (``storefront.observability``) are
``storefront_http_request_duration_seconds{view,method,status}``, a
histogram (its ``_count`` is the request count). Under gunicorn each
worker keeps its own: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty,
writable folder (e.g. ``/tmp/metrics``, on tmpfs) so every worker writes
them there and a scrape of any worker adds them all up; ``gunicorn.conf.py``
empties it at start and marks exited workers dead.
"""

import logging
import os
import re
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
)

from storefront.observability import no_store

log = logging.getLogger(__name__)

REQUEST_DURATION = Histogram(
    "storefront_http_request_duration_seconds",
    "Time to answer a request, by view, method and status (per process).",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

#: Upper bounds (seconds) of the callback delay buckets.
CALLBACK_DELAY_BUCKETS = (5, 10, 20, 30, 60, 120, 300, 600)
CALLBACK_DELAY_WINDOW = timedelta(hours=1)
#: Result codes kept as a label as they are; anything else is "other".
_RESULT_CODE = re.compile(r"[0-9A-Za-z.]{0,16}")


def _queue_depth() -> int:
    try:
        from shop.jobs import queue_depth
    except ImportError:
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.ready().count()
    return queue_depth()


def _orders():
    from shop.models import Order

    rows = Order.objects.values("status").annotate(
        n=Count("id"), paid=Count("id", filter=Q(paid_at__isnull=False))
    )
    by_status = GaugeMetricFamily("storefront_orders", "Orders by status now.", labels=["status"])
    placed = paid = 0
    for row in rows.order_by():
        by_status.add_metric([row["status"]], row["n"])
        placed += row["n"]
        paid += row["paid"]
    yield by_status
    yield CounterMetricFamily("storefront_orders_placed", "Orders ever placed.", value=placed)
    yield CounterMetricFamily("storefront_orders_paid", "Orders paid (paid_at set).", value=paid)


def _stk_pushes():
    from payments.models import PaymentAttempt

    pushes = CounterMetricFamily(
        "storefront_mpesa_stk_pushes",
        "M-Pesa STK pushes by state and Daraja result code.",
        labels=["status", "result_code"],
    )
    counts: dict[tuple[str, str], int] = {}
    rows = PaymentAttempt.objects.values("status", "result_code").annotate(n=Count("id"))
    for row in rows.order_by():
        code = row["result_code"] if _RESULT_CODE.fullmatch(row["result_code"]) else "other"
        key = (row["status"], code)
        counts[key] = counts.get(key, 0) + row["n"]
    for key, n in sorted(counts.items()):
        pushes.add_metric(list(key), n)
    yield pushes
    yield GaugeMetricFamily(
        "storefront_mpesa_payments_needing_review",
        "Payment attempts flagged for staff and not reviewed yet.",
        value=PaymentAttempt.objects.needing_review().count(),
    )


def _callback_delay():
    from payments.models import Callback

    since = timezone.now() - CALLBACK_DELAY_WINDOW
    callbacks = (
        Callback.objects.filter(received_at__gte=since, attempt__isnull=False)
        .exclude(outcome=Callback.Outcome.DUPLICATE)
        .annotate(delay=F("received_at") - F("attempt__created"))
    )
    buckets = {
        f"le_{bound}": Count("id", filter=Q(delay__lte=timedelta(seconds=bound)))
        for bound in CALLBACK_DELAY_BUCKETS
    }
    numbers = callbacks.aggregate(total=Count("id"), seconds=Sum("delay"), **buckets)
    total_seconds = numbers["seconds"].total_seconds() if numbers["seconds"] else 0.0
    yield GaugeHistogramMetricFamily(
        "storefront_mpesa_callback_delay_seconds",
        "Time from STK push to Daraja's callback, over the callbacks of the last hour.",
        buckets=[(str(float(b)), numbers[f"le_{b}"]) for b in CALLBACK_DELAY_BUCKETS]
        + [("+Inf", numbers["total"])],
        gsum_value=total_seconds,
    )


def _task_queue():
    yield GaugeMetricFamily(
        "storefront_task_queue_depth", "Background tasks ready to run now.", value=_queue_depth()
    )


class ShopCollector:
    """Read the shop's numbers from the database at each scrape (one query per family)."""

    parts = {
        "orders": _orders,
        "mpesa_stk": _stk_pushes,
        "mpesa_callback_delay": _callback_delay,
        "task_queue": _task_queue,
    }

    def collect(self):
        up = GaugeMetricFamily(
            "storefront_metrics_collector_up",
            "1 when the shop's numbers of this collector could be read, else 0.",
            labels=["collector"],
        )
        for name, part in self.parts.items():
            try:
                families = list(part())
            except Exception:
                log.exception("metrics: could not read %s", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


SHOP = CollectorRegistry(auto_describe=False)
SHOP.register(ShopCollector())


def _process_metrics() -> bytes:
    """Return the request metrics: this process's, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def may_read_metrics(request: HttpRequest) -> int:
    """Return 200 if *request* may read the metrics, else the status to answer."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.partition(" ")
        expected = settings.METRICS_TOKEN
        if (
            expected
            and scheme.lower() == "bearer"
            and constant_time_compare(token.strip(), expected)
        ):
            return 200
        return 403
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return 200
    return 404


def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the metrics in Prometheus' text format to staff or the token's holder."""
    status = may_read_metrics(request)
    if status == 404:
        return no_store(HttpResponse(b"Not found\n", status=404, content_type="text/plain"))
    if status == 403:
        return no_store(HttpResponse(b"Forbidden\n", status=403, content_type="text/plain"))
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405, content_type="text/plain")
        response["Allow"] = "GET, HEAD"
        return no_store(response)
    body = _process_metrics() + generate_latest(SHOP)
    return no_store(HttpResponse(body, content_type=CONTENT_TYPE_LATEST))
