# ruff: noqa: T201, E501  (a command-line tool that prints Markdown; its long lines are table rows)
"""Helpers for bench/checkout.sh: the checkout benchmark (see bench/README.md, "Checkout").

    checkout.py prepare POOL EXTRA OUT.tsv   pick a variant, give it plenty of stock, make POOL + EXTRA
                                             visitors whose cart holds one unit of it; prints JSON
    checkout.py mark                         JSON: the highest order id and the variant's allocation
    checkout.py queries SESSION...      SQL queries (and time) of one checkout POST per session,
                                             in-process; prints JSON
    checkout.py check PREP.json MARK.json RUNS.tsv WAIT
                                             after the runs: orders per second, pushes, payments,
                                             stock integrity, pool use; prints JSON
    checkout.py report RUN_DIR               the Markdown table (results.md)

All but `report` need the shop's environment (DATABASE_URL, SECRET_KEY, MPESA_*...).
"""

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchbenchbenchbenchbenchbench12"  # CSRF secret sent as cookie and form field
# The guest checkout form as the wrk script posts it (county 47 = Nairobi; 0708374149 pays).
FORM = {
    "email": "bench.shopper@example.com",
    "new-recipient_name": "Bench Shopper",
    "new-phone": "0712345678",
    "new-county": "47",
    "new-town": "Westlands",
    "new-street": "Bench House, Waiyaki Way",
    "mpesa_phone": "0708374149",
    "action": "pay",
}
MAX_STK_AMOUNT = 250_000  # Daraja (and the simulator) refuse more in one push


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _variant():
    """The demo catalogue's sellable variant with the most units available whose order
    (price + Nairobi delivery) M-Pesa can take in one push."""
    from django.db.models import F

    from shop.models import ProductVariant

    variant = (
        ProductVariant.objects.filter(is_active=True, product__is_active=True)
        .exclude(product__slug__startswith="bench-")
        .filter(price__gt=0, price__lte=MAX_STK_AMOUNT - 1000)
        .annotate(available=F("stock_on_hand") - F("stock_allocated"))
        .filter(available__gte=1)
        .order_by("-available", "pk")
        .first()
    )
    if variant is None:
        sys.exit("no in-stock variant in the demo catalogue (was seed_demo run?)")
    return variant


def cmd_prepare(pool: int, extra: int, out: str) -> None:
    """Make POOL + EXTRA visitors, each a session whose cart holds one unit of the variant.

    Bulk inserts (one process, no HTTP): the carts, their lines and the sessions. A session is
    what the shop's cart lookup reads (shop/carts.py: request.session[CART_SESSION_KEY] = cart
    id, database session backend), encoded by Django's own SessionStore. The variant gets
    enough stock for every visitor and more (each checkout allocates one unit)."""
    _django()
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.db.models import F
    from django.test import Client
    from django.utils import timezone

    from shop.carts import CART_SESSION_KEY
    from shop.models import Cart, CartLine, ProductVariant

    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        sys.exit(
            f"prepare writes database sessions, but SESSION_ENGINE is {settings.SESSION_ENGINE}"
        )
    variant = _variant()
    total = pool + extra
    started = time.perf_counter()
    with transaction.atomic():
        ProductVariant.objects.filter(pk=variant.pk).update(
            stock_on_hand=F("stock_allocated") + total + 10_000
        )
        carts = Cart.objects.bulk_create([Cart() for _ in range(total)], batch_size=2000)
        CartLine.objects.bulk_create(
            [
                CartLine(cart=cart, variant=variant, quantity=1, price_when_added=variant.price)
                for cart in carts
            ],
            batch_size=2000,
        )
        store = SessionStore()
        expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        sessions = []
        seen = set()
        for cart in carts:
            key = store._get_new_session_key()  # random, unused in the table
            while key in seen:
                key = store._get_new_session_key()
            seen.add(key)
            sessions.append(
                Session(
                    session_key=key,
                    session_data=store.encode({CART_SESSION_KEY: cart.pk}),
                    expire_date=expires,
                )
            )
        Session.objects.bulk_create(sessions, batch_size=2000)
    elapsed = time.perf_counter() - started
    Path(out).write_text(
        "".join(f"{s.session_key}\t{c.pk}\n" for s, c in zip(sessions, carts, strict=True))
    )

    # Honesty check: the shop itself sees the cart of a pool visitor (an empty cart would
    # redirect GET /checkout/ to the cart page) through the cookie wrk will send.
    client = Client(headers={"host": "127.0.0.1"})
    client.cookies[settings.SESSION_COOKIE_NAME] = sessions[0].session_key
    response = client.get("/checkout/")
    if response.status_code != 200 or variant.product.name.encode() not in response.content:
        sys.exit(
            f"GET /checkout/ as a pool visitor answered HTTP {response.status_code}, not the checkout"
        )
    variant.refresh_from_db()
    print(
        json.dumps(
            {
                "variant": variant.pk,
                "variant_label": str(variant),
                "price": str(variant.price),
                "stock_on_hand": variant.stock_on_hand,
                "stock_allocated": variant.stock_allocated,
                "pool": pool,
                "extra": extra,
                "session_cookie": settings.SESSION_COOKIE_NAME,
                "visitors": str(Path(out).resolve()),
                "seconds": round(elapsed, 1),
            }
        )
    )


def cmd_mark() -> None:
    _django()
    from django.db.models import Max

    from shop.models import Order

    print(json.dumps({"order_id": Order.objects.aggregate(m=Max("pk"))["m"] or 0}))


def cmd_queries(sessions: list[str]) -> None:
    """POST the checkout once per session (visitors not in wrk's pool), in this one process:
    the 1st is cold (new process: empty caches, new connection), the last is warm. Django's
    test Client (CSRF enforced) and CaptureQueriesContext, as measure.py does for its pages;
    the push goes to the running simulator, whose callback goes to the running server."""
    _django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from payments import daraja

    push_ms: list[float] = []
    real_push = daraja.stk_push

    def timed_push(**kwargs):
        started = time.perf_counter()
        try:
            return real_push(**kwargs)
        finally:
            push_ms.append((time.perf_counter() - started) * 1000)

    daraja.stk_push = timed_push  # payments.services calls daraja.stk_push through the module
    client = Client(enforce_csrf_checks=True, headers={"host": "127.0.0.1"})
    rows = []
    for key in sessions:
        client.cookies.clear()
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        client.cookies["csrftoken"] = TOKEN
        push_ms.clear()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.post("/checkout/", {**FORM, "csrfmiddlewaretoken": TOKEN})
        elapsed = (time.perf_counter() - started) * 1000
        location = response.get("Location", "")
        if response.status_code != 302 or not location.startswith("/orders/"):
            sys.exit(f"checkout POST answered HTTP {response.status_code} {location!r}")
        captured = ctx.captured_queries
        rows.append(
            {
                "status": response.status_code,
                "location": location,
                "queries": len(captured),
                "ms": round(elapsed, 1),
                "sql_ms": round(sum(float(q["time"]) for q in captured) * 1000, 1),
                "push_ms": round(sum(push_ms), 1),
                "sql": [q["sql"][:300] for q in captured],
            }
        )
    print(json.dumps({"cold": rows[0], "warm": rows[-1], "all": [r["queries"] for r in rows]}))


def _parse_runs(path: str) -> list[dict]:
    """RUNS.tsv, written by the wrk script's done(): one line per wrk invocation."""
    runs = []
    for line in Path(path).read_text().splitlines():
        start, end, sent, ok, bad, exhausted = line.split("\t")
        runs.append(
            {
                "start": float(start),
                "end": float(end),
                "sent": int(sent),
                "ok": int(ok),
                "bad": int(bad),
                "exhausted": int(exhausted),
            }
        )
    return runs


def cmd_check(prep_file: str, mark_file: str, runs_file: str, wait: float) -> None:
    """Orders per second in the recorded runs, pushes, payments, stock and pool integrity."""
    _django()
    from django.db.models import Count, Q, Sum

    from payments.models import Callback, PaymentAttempt
    from shop.models import Cart, Order, OrderLine, ProductVariant

    prep = json.loads(Path(prep_file).read_text())
    mark = json.loads(Path(mark_file).read_text())["order_id"]
    runs = _parse_runs(runs_file)
    if len(runs) < 2:
        sys.exit(f"{runs_file}: expected the warm-up and the recorded runs, got {len(runs)} lines")
    orders = Order.objects.filter(pk__gt=mark)
    recorded = runs[1:]  # the first wrk invocation is run_wrk.sh's 3 s warm-up
    per_run = []
    for run in recorded:
        window = (
            datetime.fromtimestamp(run["start"], tz=UTC),
            datetime.fromtimestamp(run["end"], tz=UTC),
        )
        n = orders.filter(created__gte=window[0], created__lt=window[1]).count()
        per_run.append({**run, "orders": n, "seconds": round(run["end"] - run["start"], 3)})
    seconds = sum(r["seconds"] for r in per_run)
    in_runs = sum(r["orders"] for r in per_run)

    def payments():
        attempts = PaymentAttempt.objects.filter(order__in=orders)
        return attempts.aggregate(
            attempts=Count("pk"),
            pushed=Count("pk", filter=Q(checkout_request_id__isnull=False)),
            paid=Count("pk", filter=Q(status=PaymentAttempt.Status.PAID)),
            failed=Count("pk", filter=Q(status=PaymentAttempt.Status.FAILED)),
            flagged=Count("pk", filter=~Q(flag="")),
        )

    placed = orders.count()
    # The simulator POSTs the callbacks to the same two workers: give them a few seconds.
    deadline = time.monotonic() + wait
    got = payments()
    while got["paid"] < got["pushed"] and time.monotonic() < deadline:
        time.sleep(1)
        got = payments()
    order_status = dict(orders.values_list("status").annotate(n=Count("pk")).order_by())
    variant = ProductVariant.objects.get(pk=prep["variant"])
    units = (
        OrderLine.objects.filter(order__in=orders, variant_id=variant.pk).aggregate(
            u=Sum("quantity")
        )["u"]
        or 0
    )
    allocated = variant.stock_allocated - prep["stock_allocated"]
    lines_per_order = OrderLine.objects.filter(order__in=orders).count()
    pool_carts = Cart.objects.filter(
        pk__in=[
            int(line.split("\t")[1]) for line in Path(prep["visitors"]).read_text().splitlines()
        ]
    )
    emptied = pool_carts.filter(lines__isnull=True).count()
    sent = sum(r["sent"] for r in runs)
    result = {
        "runs": per_run,
        "warmup": runs[0],
        "orders_in_runs": in_runs,
        "seconds_in_runs": round(seconds, 3),
        "orders_per_second": round(in_runs / seconds, 1) if seconds else 0,
        "orders_total": placed,
        "order_status": order_status,
        "order_lines": lines_per_order,
        **got,
        "callbacks": Callback.objects.filter(
            checkout_request_id__in=PaymentAttempt.objects.filter(order__in=orders).values(
                "checkout_request_id"
            )
        ).count(),
        "stock_allocated_before": prep["stock_allocated"],
        "stock_allocated_after": variant.stock_allocated,
        "stock_allocated_delta": allocated,
        "units_ordered": units,
        "stock_ok": allocated == placed == units,
        "pool": prep["pool"],
        "visitors_sent": sent,
        "pool_carts_emptied": emptied,
        "pool_ok": emptied == placed
        and sent <= prep["pool"]
        and not any(r["exhausted"] for r in runs),
        "exhausted": sum(r["exhausted"] for r in runs),
        "wrong_answers": sum(r["bad"] for r in runs),
    }
    print(json.dumps(result))


# --------------------------------------------------------------------------- report


def cmd_report(run_dir: str) -> None:
    run = Path(run_dir)
    meta = json.loads((run / "meta.json").read_text())
    prep = json.loads((run / "prepare.json").read_text())
    check = json.loads((run / "check.json").read_text())
    queries = json.loads((run / "queries.json").read_text())
    wrk = (run / "wrk.tsv").read_text().split("\t")
    rps, p50, p99, runs_rps, requests, errors = wrk[:6]
    problems = meta.get("problems", [])
    out = [
        f"# Storefront checkout benchmark {meta['started']}",
        "",
        f"- commit `{meta['commit']}`{' (uncommitted changes)' if meta['dirty'] else ''}; PostgreSQL `{meta['db']}`, "
        f"the demo catalogue (`seed_demo`; what a checkout costs does not depend on the catalogue's size); cache: {meta['cache']}",
        f"- gunicorn `storefront.wsgi`, 2 sync workers, DEBUG off, 127.0.0.1; wrk `{meta['wrk_args']}` after a 3 s warm-up, "
        f"{meta['repeats']} runs, median req/s, p50, p99 (/work/shared/bench/run_wrk.sh)",
        "- Daraja simulator (`python -m payments.simulator --callback-delay 0`): every push is accepted at once and its "
        "success callback POSTed to the shop right away, served by the same 2 workers",
        f"- every request is a new guest with one unit of variant {prep['variant']} ({prep['variant_label']}, KES {prep['price']}) "
        f"in the cart, from a pool of {prep['pool']:,} visitors made beforehand ({prep['seconds']} s of bulk inserts); "
        f"POST `/checkout/` (guest form, Nairobi, M-Pesa 0708374149, `action=pay`); success = 302 to `/orders/<number>/payment/`",
        f"- machine: {meta['cpus']} CPUs, load average at start {meta['load_start']}, at end {meta.get('load_end', '?')}; "
        "shared with other work, so figures are noisy",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors / requests | orders/s (DB) | pushed / orders | paid by callback | stock allocated = orders | queries warm (cold) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| checkout `POST /checkout/` | {rps} | {p50} | {p99} | {int(errors):,} / {int(requests):,} | "
        f"{check['orders_per_second']} | {check['pushed']:,} / {check['orders_total']:,} | {check['paid']:,} | "
        f"{'yes' if check['stock_ok'] else 'NO'}: +{check['stock_allocated_delta']:,} | "
        f"{queries['warm']['queries']} ({queries['cold']['queries']}) |",
        "",
        "## Details",
        "",
        f"- req/s per run: {runs_rps}; errors = wrk's non-2xx/3xx + socket errors + 302s elsewhere than a payment page "
        f"(counted by the script: {check['wrong_answers']}); requests sent after a thread's share of the pool ran out "
        f"(a POST without CSRF, so among wrk's non-2xx): {check['exhausted']}, warm-up included.",
        "- orders/s = orders created (`Order.created`) between the start and the end of each recorded wrk run "
        "(timestamps taken by the wrk script's setup() and done()), over the runs' total duration: "
        + ", ".join(f"{r['orders']:,} in {r['seconds']} s" for r in check["runs"])
        + f" = {check['orders_in_runs']:,} in {check['seconds_in_runs']} s.",
        f"- all orders of the run (warm-up and in-flight requests included): {check['orders_total']:,}, by status "
        f"{json.dumps(check['order_status'])}; payment attempts {check['attempts']:,}, with a CheckoutRequestID {check['pushed']:,}, "
        f"paid {check['paid']:,}, failed {check['failed']:,}, flagged {check['flagged']:,}; callbacks stored {check['callbacks']:,}.",
        f"- stock: variant {prep['variant']} `stock_allocated` {check['stock_allocated_before']:,} → {check['stock_allocated_after']:,} "
        f"(+{check['stock_allocated_delta']:,}); units on the orders' lines {check['units_ordered']:,}; orders {check['orders_total']:,}.",
        f"- pool: {check['pool']:,} visitors, {check['visitors_sent']:,} sent by wrk (warm-up included), "
        f"{check['pool_carts_emptied']:,} carts emptied by a checkout (= orders placed: {'yes' if check['pool_ok'] else 'NO'}).",
        f"- one checkout POST in-process (Django test Client, same database, simulator running): warm {queries['warm']['queries']} queries, "
        f"{queries['warm']['ms']} ms of which SQL {queries['warm']['sql_ms']} ms and the STK push (HTTP to the simulator, OAuth token from the cache) "
        f"{queries['warm']['push_ms']} ms; cold (first request of a new process) {queries['cold']['queries']} queries, {queries['cold']['ms']} ms "
        f"(push {queries['cold']['push_ms']} ms). Queries per visitor: {queries['all']}.",
        "",
        "Queries of the warm checkout POST:",
        "",
        *(f"{i}. `{q[:200]}`" for i, q in enumerate(queries["warm"]["sql"], 1)),
    ]
    if problems:
        out += ["", "## Problems", "", *(f"- **{p}**" for p in problems)]
    text = "\n".join(out) + "\n"
    (run / "results.md").write_text(text)
    print(text)


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    if command == "prepare":
        cmd_prepare(int(args[0]), int(args[1]), args[2])
    elif command == "mark":
        cmd_mark()
    elif command == "queries":
        cmd_queries(args)
    elif command == "check":
        cmd_check(args[0], args[1], args[2], float(args[3]))
    elif command == "report":
        cmd_report(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
