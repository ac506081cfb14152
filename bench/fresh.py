# ruff: noqa: T201, E501  (a command-line tool that prints Markdown)
"""Fresh renders over many distinct URLs, and the cold-mix URL list for wrk (bench/run.sh).

    fresh.py renders OUT.jsonl [PER_KIND]   in-process time of a fresh render (no cached HTML:
                                            the catalogue version is bumped before each request)
                                            of PER_KIND (100) random URLs per kind of page, after
                                            one unmeasured pass over the same URLs (thumbnails)
    fresh.py mix OUT.lua [N]                a wrk script cycling through N (20000) random listing
                                            URLs (list, category, search, with filters, sorts and
                                            pages), each thread in its own random order
    fresh.py warm OUT.lua [N]               a wrk script cycling through N (200) catalogue URLs
                                            (list, category, search, product; pages 1-3) that
                                            stay in the page cache; their paths also in OUT.txt
    fresh.py stock-changes SECONDS          every SECONDS, set a random synthetic variant's
                                            stock through the shop's own service (as staff do),
                                            until stopped with SIGTERM; prints how many
    fresh.py summary OUT.jsonl              print the table of `renders` (also used by the report)

Needs the shop's environment (DJANGO_SETTINGS_MODULE, DATABASE_URL, SECRET_KEY, REDIS_URL...).
URLs are drawn from the database's own brands, categories, attribute values, products and
search words, with a fixed random seed, so two runs on the same database ask the same URLs.

Kinds: `list` (/products/ with 0-2 brands, 0-2 options, in stock, a price range, a sort and a
page, each drawn independently), `category` (/c/<slug>/, same filters), `search` (/search/?q=
a brand, a product family or a kind of device, sometimes with filters, sort and page) and
`detail` (/p/<slug>/ of a random active product). Pages are 1 most of the time, 2-5 often and
up to 50 sometimes (the paginator answers the last page past the end).
"""

import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("list", "category", "search", "detail")
SEARCH_WORDS = [
    "galaxy",
    "iphone",
    "redmi",
    "spark",
    "camon",
    "hot",
    "note",
    "pova",
    "probook",
    "ideapad",
    "thinkpad",
    "bravia",
    "flip",
    "freepods",
    "watch",
    "buds",
    "charger",
    "power bank",
    "laptop",
    "tablet",
    "tv",
    "speaker",
    "headphones",
    "samsung",
    "tecno",
    "oraimo",
    "256 gb",
    "black",
    "pro max",
    "galaxy a",
    "smart tv",
    "earbuds",
]


def _django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    import django

    django.setup()


class Urls:
    """Random catalogue URLs from what the database holds."""

    def __init__(self, seed: int = 13):
        from django.db.models import Count

        from shop.models import AttributeValue, Brand, Category, Product

        self.rng = random.Random(seed)
        self.brands = list(Brand.objects.values_list("slug", flat=True))
        self.categories = list(
            Category.objects.filter(is_active=True).values_list("slug", flat=True)
        )
        # options in proportion to how many variants carry them, as shoppers would tick them
        used = (
            AttributeValue.objects.annotate(n=Count("variants"))
            .filter(n__gt=0)
            .values_list("attribute__slug", "slug", "n")
        )
        self.options = [f"{a}:{v}" for a, v, _n in used]
        self.option_weights = [n for _a, _v, n in used]
        # products by id range: a random id, then the first active product from it
        ids = Product.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
        self.first, self.last = ids.first(), ids.last()
        self.sorts = ["featured", "newest", "price-asc", "price-desc", "popular", "top-rated"]

    def page(self) -> int:
        r = self.rng.random()
        return 1 if r < 0.6 else self.rng.randint(2, 5) if r < 0.9 else self.rng.randint(6, 50)

    def filters(self, p_filter: float = 0.6) -> list[tuple[str, str]]:
        rng, q = self.rng, []
        if rng.random() < p_filter:
            for b in rng.sample(self.brands, rng.choice((0, 1, 1, 2))):
                q.append(("brand", b))
            if self.options:
                picked = rng.choices(
                    self.options, self.option_weights, k=rng.choice((0, 0, 1, 1, 2))
                )
                for v in sorted(set(picked)):
                    q.append(("v", v))
            if rng.random() < 0.3:
                q.append(("in_stock", "true"))
            if rng.random() < 0.2:
                low = rng.choice((0, 1000, 5000, 10000, 20000))
                q += [
                    ("min_price", str(low)),
                    ("max_price", str(low + rng.choice((5000, 20000, 100000)))),
                ]
        if rng.random() < 0.7:
            q.append(("sort", rng.choice(self.sorts)))
        page = self.page()
        if page > 1:
            q.append(("page", str(page)))
        return q

    def one(self, kind: str) -> str:
        rng = self.rng
        if kind == "list":
            q = self.filters()
            return "/products/" + (f"?{urlencode(q)}" if q else "")
        if kind == "category":
            q = self.filters()
            return f"/c/{rng.choice(self.categories)}/" + (f"?{urlencode(q)}" if q else "")
        if kind == "search":
            q = [("q", rng.choice(SEARCH_WORDS))] + self.filters(p_filter=0.3)
            return f"/search/?{urlencode(q)}"
        if kind == "detail":
            from shop.models import Product

            start = rng.randint(self.first, self.last)
            slug = (
                Product.objects.filter(is_active=True, pk__gte=start)
                .order_by("pk")
                .values_list("slug", flat=True)
                .first()
            )
            return f"/p/{slug}/"
        raise ValueError(kind)


def cmd_renders(out: str, per_kind: int) -> None:
    _django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from shop.fragments import catalogue_changed

    urls = Urls()
    # An exception in a view is recorded (status "error", e.g. a query cancelled by the
    # database's statement_timeout, which run.sh sets like the server's), not raised.
    client = Client(headers={"host": "127.0.0.1"}, raise_request_exception=False)
    with open(out, "w") as fh:
        for kind in KINDS:
            paths = []
            seen = set()
            while len(paths) < per_kind:
                path = urls.one(kind)
                if path not in seen:
                    seen.add(path)
                    paths.append(path)
            # An unmeasured pass first: sorl-thumbnail makes each picture's thumbnails on
            # first view (a one-off cost, not the page's); then every page is measured.
            for path in paths:
                client.get(path)
            for path in paths:
                catalogue_changed()  # no stored HTML is current: the page renders afresh
                client.cookies.clear()
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as ctx:
                    response = client.get(path)
                ms = (time.perf_counter() - started) * 1000
                status = response.status_code
                if status >= 500 and getattr(response, "exc_info", None):
                    status = f"error: {response.exc_info[1]!s:.80}".strip()
                fh.write(
                    json.dumps(
                        {
                            "kind": kind,
                            "path": path,
                            "status": status,
                            "ms": round(ms, 2),
                            "sql_ms": round(
                                sum(float(q["time"]) for q in ctx.captured_queries) * 1000, 2
                            ),
                            "queries": len(ctx.captured_queries),
                            "slowest": max(
                                (
                                    {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:300]}
                                    for q in ctx.captured_queries
                                ),
                                key=lambda q: q["ms"],
                                default=None,
                            ),
                        }
                    )
                    + "\n"
                )
                fh.flush()
            print(f"  {kind}: {per_kind} fresh renders", flush=True)
    print(summary(out))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of VALUES."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))
    return ordered[k]


def stats(path: str) -> dict:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    out = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        ms = [r["ms"] for r in mine]
        sql = [r["sql_ms"] for r in mine]
        queries = [r["queries"] for r in mine]
        statuses = {}
        for r in mine:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        out[kind] = {
            "n": len(mine),
            "p50": statistics.median(ms),
            "p99": percentile(ms, 99),
            "max": max(ms),
            "sql_p50": statistics.median(sql),
            "sql_p99": percentile(sql, 99),
            "q_min": min(queries),
            "q_max": max(queries),
            "statuses": statuses,
            "slowest": max(mine, key=lambda r: r["ms"]),
        }
    return out


def summary(path: str) -> str:
    lines = [
        "| page kind | URLs | p50 ms | p99 ms | max ms | SQL p50 / p99 ms | queries min–max | HTTP |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, s in stats(path).items():
        st = ", ".join(f"{k}×{v}" for k, v in sorted(s["statuses"].items(), key=str))
        lines.append(
            f"| {kind} | {s['n']} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | "
            f"{s['sql_p50']:.1f} / {s['sql_p99']:.1f} | {s['q_min']}–{s['q_max']} | {st} |"
        )
    return "\n".join(lines)


def cmd_mix(out: str, n: int, *, warm: bool = False) -> None:
    _django()
    urls = Urls(seed=1414 if warm else 1313)
    if warm:
        kinds = ["list"] * 30 + ["category"] * 20 + ["search"] * 20 + ["detail"] * 30
        urls.page = lambda: urls.rng.choice((1, 1, 1, 2, 3))  # pages the cache keeps
    else:
        kinds = ["list"] * 45 + ["category"] * 30 + ["search"] * 25
    paths, seen = [], set()
    while len(paths) < n:
        path = urls.one(urls.rng.choice(kinds))
        if path not in seen:
            seen.add(path)
            paths.append(path)
    body = ",\n".join(json.dumps(p) for p in paths)
    if warm:
        Path(out).with_suffix(".txt").write_text("\n".join(paths) + "\n")
        what = (
            f"{n} catalogue URLs (30% /products/, 20% categories, 20% search, 30% product\n"
            "-- pages; pages 1-3) that the page cache keeps: fetched once before the run, they are warm."
        )
    else:
        what = (
            f"{n} distinct listing URLs (45% /products/,\n"
            "-- 30% categories, 25% search; random filters, sorts and pages): mostly cache misses."
        )
    Path(out).write_text(
        f"""-- generated by bench/fresh.py: {what}
-- Every wrk thread walks the list in its own random order.
local paths = {{
{body}
}}
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
local order, i
function request()
  if order == nil then
    math.randomseed(os.time() * 100 + (id or 1))
    order = {{}}
    for k = 1, #paths do order[k] = k end
    for k = #order, 2, -1 do local j = math.random(k); order[k], order[j] = order[j], order[k] end
    i = 0
  end
  i = i + 1
  return wrk.format("GET", paths[order[(i - 1) % #order + 1]])
end
"""
    )
    print(f"{n} URLs in {out}")


def cmd_stock_changes(seconds: float) -> None:
    """Change one variant's stock every SECONDS through the shop's service, until SIGTERM.

    Counts from 0 to 60: about one change in five is a sell-out, and one of a
    sold-out variant a restock.
    """
    import signal

    _django()
    from shop.models import ProductVariant
    from shop.services.stock import set_stock_on_hand

    ids = list(
        ProductVariant.objects.filter(product__slug__startswith="bench-", stock_allocated=0)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    rng = random.Random(7)
    changes = 0

    def stop(*_args):
        print(f"{changes} stock changes", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        # One change in five sells the variant out; a sold-out one chosen again
        # comes back. Without them a reused database (whose variants earlier
        # runs restocked) would measure only changes that move no list.
        on_hand = 0 if rng.random() < 0.2 else rng.randint(1, 60)
        set_stock_on_hand(variant_id=rng.choice(ids), on_hand=on_hand)
        changes += 1
        time.sleep(seconds)


def main(argv):
    if argv[:1] == ["renders"] and len(argv) in (2, 3):
        cmd_renders(argv[1], int(argv[2]) if len(argv) == 3 else 100)
    elif argv[:1] == ["mix"] and len(argv) in (2, 3):
        cmd_mix(argv[1], int(argv[2]) if len(argv) == 3 else 20000)
    elif argv[:1] == ["warm"] and len(argv) in (2, 3):
        cmd_mix(argv[1], int(argv[2]) if len(argv) == 3 else 200, warm=True)
    elif argv[:1] == ["stock-changes"] and len(argv) == 2:
        cmd_stock_changes(float(argv[1]))
    elif argv[:1] == ["summary"] and len(argv) == 2:
        print(summary(argv[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
