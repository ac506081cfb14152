# ruff: noqa: T201, E501  (a command-line tool that prints Markdown; its long lines are table rows)
"""Helpers for bench/run.sh: SQL queries per page, compressed bytes per page, the report.

    measure.py queries OUT.jsonl LABEL=SPEC...   SQL queries per page, in-process (needs the
                                                 shop's environment: DATABASE_URL, SECRET_KEY...)
    measure.py bytes BASE_URL OUT.jsonl LABEL=PATH...
                                                 gzip bytes of the HTML and of the CSS/JS it links,
                                                 fetched from the running server
    measure.py report RUN_DIR SCENARIOS_FILE     the Markdown table and the target checks
    measure.py variant                           id of an in-stock variant of the demo catalogue
    measure.py visitors N VARIANT OUT.tsv        N visitors with a cart line (session, line id)
    measure.py carts-mark                        the highest cart id so far
    measure.py carts-check MARK                  carts created after MARK, and how many have no line

Cart scenarios: {variant} in a spec is replaced by run.sh with `measure.py variant`; a spec with
{line} (e.g. POST:/cart/lines/{line}/|quantity={toggle}) is a visitor who already has one cart
line of that variant: here each measured request first adds it (not counted), then posts the
spec, with {toggle} as 2 (wrk's script alternates 2 and 1, so every update changes the line).

Queries: each page is measured in a fresh Python process (so "cold" really is a new worker:
empty per-process caches, new DB connection) with Django's test Client and
CaptureQueriesContext, as a cookie-less anonymous visitor like wrk: the 1st request is "cold",
then one more, and the 3rd is "warm" (what a long-running worker sees). Same method as
/work/shared/bench/oscar_queries.py. A SPEC of POST:/path|a=1&b=2 posts that form (default
quantity=1) plus csrfmiddlewaretoken, with a matching csrftoken cookie and no session, like the
Lua script run.sh writes for wrk (and /work/shared/bench/basket_add.lua).

Bytes: the page is fetched with Accept-Encoding: gzip (GZipMiddleware), three times, median
(Django adds up to 100 random bytes to each gzip response against BREACH); every
<link rel=stylesheet href> and <script src> on the page is fetched with Accept-Encoding: gzip
(WhiteNoise serves its precompressed .gz) and the bytes on the wire are summed.
"""

import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import parse_qsl, urljoin, urlsplit
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchbenchbenchbenchbenchbench12"  # any 32-char secret works as cookie + form token

# Targets from the issue.
TARGET_QUERIES = 8
TARGET_HTML_GZIP = 20_000  # "20 KB", read as 20,000 bytes (the stricter reading)
TARGET_CSS_GZIP = 15_000  # "15 KB"
TARGET_RPS_SHARE = 0.8  # of bare Django /items/ (issue 13: warm pages; was 0.5)
TARGET_POST_RPS = 150  # cart POSTs, with 0 errors
# Issue 13, fresh renders (in-process ms, no cached HTML), by catalogue size: listing pages
# (list, category, search) and product pages; below 1,000,000 products the 100,000 bounds apply.
TARGET_FRESH_MS = {100_000: (50, 30), 1_000_000: (100, 50)}
TARGET_MIX_RPS, TARGET_MIX_P99 = 100, 250  # cold mix on 2 workers, 0 errors


def pairs(items):
    out = []
    for item in items:
        label, _, value = item.partition("=")
        out.append((label, value))
    return out


# --------------------------------------------------------------------------- queries


def shape(sql: str) -> str:
    return re.sub(r"\b\d+\b", "N", re.sub(r"'[^']*'", "S", sql))


def queries_one(spec: str) -> dict:
    """Run in a fresh process: cold request, one more, warm request."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # One client (one handler: middleware loads once, as in a gunicorn worker), cookies
    # cleared before every request: each request is a new cookie-less visitor, like wrk's.
    client = Client(enforce_csrf_checks=True, headers={"host": "127.0.0.1"})

    def hit():
        client.cookies.clear()
        path = spec
        if "{line}" in spec:  # a visitor with one cart line: add it first, not measured
            client.cookies["csrftoken"] = TOKEN
            add = {"variant": os.environ["BENCH_VARIANT"], "quantity": "1"}
            client.post("/cart/add/", {**add, "csrfmiddlewaretoken": TOKEN})
            path = spec.replace("{line}", str(_line_of_session(client)))
            path = path.replace("{toggle}", "2")  # a real change: the line holds 1
        started = time.perf_counter()
        if path.startswith("POST:"):
            path, _, body = path[5:].partition("|")
            data = dict(parse_qsl(body)) if body else {"quantity": "1"}
            client.cookies["csrftoken"] = TOKEN
            with CaptureQueriesContext(connection) as ctx:
                response = client.post(path, {**data, "csrfmiddlewaretoken": TOKEN})
        else:
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(spec)
        elapsed = (time.perf_counter() - started) * 1000
        captured = ctx.captured_queries
        return {
            "status": response.status_code,
            "bytes": len(response.content),
            "queries": len(captured),
            "ms": round(elapsed, 1),
            "sql_ms": round(sum(float(q["time"]) for q in captured) * 1000, 1),
            "shapes": Counter(shape(q["sql"]) for q in captured).most_common(),
            "slowest": sorted(
                (
                    {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:600]}
                    for q in captured
                ),
                key=lambda q: -q["ms"],
            )[:3],
        }

    def _line_of_session(client):
        from django.conf import settings
        from django.contrib.sessions.backends.db import SessionStore

        from shop.carts import CART_SESSION_KEY
        from shop.models import CartLine

        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        cart_id = SessionStore(session_key=key)[CART_SESSION_KEY]
        return CartLine.objects.filter(cart_id=cart_id).values_list("pk", flat=True).get()

    cold = hit()
    hit()
    warm = hit()
    result = {"spec": spec, "cold": cold, "warm": warm}
    if not spec.startswith("POST:"):
        # The catalogue's pages come from its page cache once rendered: count a fresh render
        # too, right after a catalogue change (the category tree and thumbnails stay warm).
        from shop.fragments import catalogue_changed

        catalogue_changed()
        result["rendered"] = hit()
        # One request is a noisy clock: the warm time is the median of 5 more, without capture.
        times = []
        for _ in range(5):
            client.cookies.clear()
            started = time.perf_counter()
            client.get(spec)
            times.append((time.perf_counter() - started) * 1000)
        warm["ms"] = round(statistics.median(times), 1)
    return result


def cmd_queries(out: str, items: list[str]) -> None:
    with open(out, "w") as fh:
        for label, spec in pairs(items):
            proc = subprocess.run(
                [sys.executable, "-W", "ignore", __file__, "_one", spec],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                row = {"label": label, "spec": spec, "error": proc.stderr.strip()[-2000:]}
                print(f"  {label:14} ERROR (see {out})", flush=True)
            else:
                row = {"label": label, **json.loads(proc.stdout.strip().splitlines()[-1])}
                c, w = row["cold"], row["warm"]
                print(
                    f"  {label:14} {spec:55} HTTP {w['status']}  queries cold {c['queries']:3} / "
                    f"warm {w['queries']:3}   warm: {w['ms']:.1f} ms in-process, "
                    f"{w['sql_ms']:.1f} ms SQL",
                    flush=True,
                )
            fh.write(json.dumps(row) + "\n")


# --------------------------------------------------------------------------- cart helpers


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def cmd_variant() -> None:
    """The demo catalogue's sellable variant with the most units available (not a bench- product).

    The cart reserves no stock, so a new visitor adding 1 unit never runs it out; the variant
    needs stock_available >= 2 (cart-update alternates a line between 2 units and 1)."""
    _django()
    from django.db.models import F

    from shop.models import ProductVariant

    variant = (
        ProductVariant.objects.filter(is_active=True, product__is_active=True)
        .exclude(product__slug__startswith="bench-")
        .annotate(available=F("stock_on_hand") - F("stock_allocated"))
        .filter(available__gte=2)
        .order_by("-available", "pk")
        .first()
    )
    if variant is None:
        sys.exit("no in-stock variant in the demo catalogue (was seed_demo run?)")
    print(variant.pk)


def cmd_visitors(n: int, variant: str, out: str) -> None:
    """N anonymous visitors, each with a session whose cart holds 1 unit of VARIANT.

    Goes through the real view (test Client, CSRF enforced) against the bench database, so the
    sessions and lines are the shop's own; writes `session-cookie-value TAB line-id` lines."""
    _django()
    from django.conf import settings
    from django.test import Client

    from shop.carts import CART_SESSION_KEY
    from shop.models import CartLine

    client = Client(enforce_csrf_checks=True, headers={"host": "127.0.0.1"})
    rows = []
    for _ in range(n):
        client.cookies.clear()
        client.cookies["csrftoken"] = TOKEN
        response = client.post(
            "/cart/add/", {"variant": variant, "quantity": "1", "csrfmiddlewaretoken": TOKEN}
        )
        if response.status_code != 302:
            sys.exit(f"POST /cart/add/ answered HTTP {response.status_code}")
        session = client.session
        line = CartLine.objects.filter(cart_id=session[CART_SESSION_KEY]).values_list(
            "pk", flat=True
        )
        rows.append(f"{client.cookies[settings.SESSION_COOKIE_NAME].value}\t{line.get()}")
    Path(out).write_text("\n".join(rows) + "\n")
    print(settings.SESSION_COOKIE_NAME)


def cmd_carts_mark() -> None:
    _django()
    from django.db.models import Max

    from shop.models import Cart

    print(Cart.objects.aggregate(m=Max("pk"))["m"] or 0)


def cmd_carts_check(mark: int) -> None:
    """Carts made after MARK and how many hold no line: cart_add creates the cart first and
    answers 302 also when the add fails (out of stock, unavailable), so a failed add shows up
    here and not in wrk's status counts."""
    _django()
    from shop.models import Cart

    carts = Cart.objects.filter(pk__gt=mark)
    print(json.dumps({"carts": carts.count(), "empty": carts.filter(lines__isnull=True).count()}))


# --------------------------------------------------------------------------- bytes


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.css, self.js, self.inline_js, self.json_ld = [], [], 0, 0
        self._in_script = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and "stylesheet" in (a.get("rel") or "").lower().split() and a.get("href"):
            self.css.append(a["href"])
        elif tag == "script":
            if a.get("src"):
                self.js.append(a["src"])
            elif (a.get("type") or "").lower() == "application/ld+json":
                self.json_ld += 1
            elif (a.get("type") or "text/javascript").lower() in ("text/javascript", "module", ""):
                self.inline_js += 1


def fetch(url: str) -> dict:
    request = Request(url, headers={"Accept-Encoding": "gzip", "User-Agent": "storefront-bench"})
    try:
        with urlopen(request, timeout=30) as response:
            status, headers, body = response.status, response.headers, response.read()
    except HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    encoding = (headers.get("Content-Encoding") or "").lower()
    raw = gzip.decompress(body) if encoding == "gzip" else body
    return {"status": status, "encoding": encoding or "identity", "wire": len(body), "raw": raw}


def cmd_bytes(base: str, out: str, items: list[str]) -> None:
    with open(out, "w") as fh:
        for label, path in pairs(items):
            url = urljoin(base, path)
            pages = [fetch(url) for _ in range(3)]
            page = pages[-1]
            parser = Assets()
            parser.feed(page["raw"].decode("utf-8", "replace"))
            origin = urlsplit(base).netloc
            row = {
                "label": label,
                "path": path,
                "status": page["status"],
                "encoding": page["encoding"],
                "html_wire": int(statistics.median(p["wire"] for p in pages)),
                "html_raw": len(page["raw"]),
                "inline_js": parser.inline_js,
                "json_ld": parser.json_ld,
            }
            for kind, refs in (("css", parser.css), ("js", parser.js)):
                assets = []
                for ref in refs:
                    asset_url = urljoin(url, ref)
                    if urlsplit(asset_url).netloc != origin:
                        assets.append({"url": asset_url, "external": True})
                        continue
                    got = fetch(asset_url)
                    assets.append(
                        {
                            "url": ref,
                            "status": got["status"],
                            "encoding": got["encoding"],
                            "wire": got["wire"],
                            "raw": len(got["raw"]),
                        }
                    )
                row[kind] = assets
            fh.write(json.dumps(row) + "\n")
            print(
                f"  {label:14} HTTP {row['status']}  HTML {row['html_wire']} B on the wire "
                f"({row['encoding']}, {row['html_raw']} B raw)  CSS {sum(a.get('wire', 0) for a in row['css'])} B  "
                f"JS {sum(a.get('wire', 0) for a in row['js'])} B ({', '.join(a['url'] for a in row['js']) or 'none'})",
                flush=True,
            )


# --------------------------------------------------------------------------- report


def read_jsonl(path: Path) -> dict:
    if not path.exists():
        return {}
    return {row["label"]: row for row in map(json.loads, path.read_text().splitlines()) if row}


def read_scenarios(path: str) -> list[dict]:
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        label, spec, targets, *_ = line.split() + ["-"]
        rows.append({"label": label, "spec": spec, "targets": set(targets.split(",")) - {"-"}})
    return rows


def abbreviate(sql: str, width: int = 170) -> str:
    """The start of the SELECT list and what follows FROM: enough to tell queries apart."""
    sql = sql.replace("`", "'")
    if len(sql) <= width:
        return sql
    depth, cut = 0, -1
    for i, ch in enumerate(sql):  # the FROM of the outer query, not of a subquery
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and sql.startswith(" FROM ", i):
            cut = i
            break
    if cut < 0:
        return sql[: width - 1] + "…"
    head = sql[: min(cut, 45)] + (" …" if cut > 45 else "")
    tail = sql[cut : cut + width - len(head)]
    return head + tail + ("…" if cut + width - len(head) < len(sql) else "")


def fmt_int(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def cmd_report(run_dir: str, scenarios_file: str) -> None:
    run = Path(run_dir)
    meta = json.loads((run / "meta.json").read_text())
    queries = read_jsonl(run / "queries.jsonl")
    sizes = read_jsonl(run / "bytes.jsonl")
    wrk = {}
    if (run / "wrk.tsv").exists():
        for line in (run / "wrk.tsv").read_text().splitlines():
            f = line.split("\t")
            wrk[f[0]] = {
                "path": f[1],
                "probe": f[2],
                "rps": f[3],
                "p50": f[4],
                "p99": f[5],
                "runs": f[6],
                "non2xx": f[7],
                "load": f[8],
                "reqs": f[9] if len(f) > 9 else "",
                "sock": f[10] if len(f) > 10 else "",
            }
    carts = {}
    if (run / "carts.tsv").exists():
        for line in (run / "carts.tsv").read_text().splitlines():
            label, _, js = line.partition("\t")
            carts[label] = json.loads(js)
    only = set(meta.get("only") or [])
    scenarios = [s for s in read_scenarios(scenarios_file) if not only or s["label"] in only]

    def num(x):
        try:
            return float(x)
        except (TypeError, ValueError):
            return None

    items_rps = num(wrk.get("bare-items", {}).get("rps"))

    def total(csv):
        return sum(int(x) for x in (csv or "").split(",") if x.strip().isdigit())

    def errors(label):
        """Non-2xx/3xx + socket errors (connect, read, write, timeout) over the recorded runs,
        + carts left without a line (a failed add answers 302 too); None if not measured."""
        w = wrk.get(label)
        if not w or w.get("rps") == "error":
            return None
        return total(w["non2xx"]) + total(w.get("sock")) + carts.get(label, {}).get("empty", 0)

    checks, notes, infos = [], [], []
    lines = [
        "| page | req/s | p50 ms | p99 ms | errors / requests | queries cold/warm/rendered | HTML gzip B | CSS gzip B | JS gzip B |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| *target* | *≥ {TARGET_RPS_SHARE:.0%} of bare `/items/` (pages marked rps); ≥ {TARGET_POST_RPS} (cart POSTs)* | | | *0 (cart POSTs)* "
        f"| *≤ {TARGET_QUERIES} (GET pages)* | *≤ {TARGET_HTML_GZIP:,} (list pages)* | *≤ {TARGET_CSS_GZIP:,}* | *htmx only* |",
    ]
    for s in scenarios:
        label = s["label"]
        w, q, b = wrk.get(label, {}), queries.get(label, {}), sizes.get(label, {})
        rps = w.get("rps", "–")
        flag = ""
        probe_bad = (
            w and w["probe"] != "200" and not s["spec"].startswith("POST:")
        )  # probe is a GET
        if w and (probe_bad or any(x not in ("0", "") for x in w["non2xx"].split(","))):
            flag = " ⚠"
            notes.append(
                f"`{label}`: probe HTTP {w['probe']}, non-2xx/3xx responses per wrk run: {w['non2xx']} "
                "(req/s counts them; the figure is not a real page rate)."
            )
        elif w and any(num(x) == 0 for x in w["runs"].split(",")):
            flag = " ⚠"
            notes.append(
                f"`{label}`: a wrk run completed no request (req/s per run {w['runs']}): the "
                "server was still busy with the warm-up's queued requests or the machine was "
                "overloaded; rerun."
            )
        if "cold" in q:
            qcell = f"{q['cold']['queries']}/{q['warm']['queries']}"
            if "rendered" in q:
                qcell += f"/{q['rendered']['queries']}"
            if q["warm"]["status"] >= 400:
                qcell += f" (HTTP {q['warm']['status']})"
        else:
            qcell = "error" if q.get("error") else "–"
        if b:
            css = sum(a.get("wire", 0) for a in b["css"])
            js = sum(a.get("wire", 0) for a in b["js"])
            html = fmt_int(b["html_wire"]) + (
                "" if b["encoding"] == "gzip" else f" ({b['encoding']}!)"
            )
            css_cell, js_cell = fmt_int(css), fmt_int(js)
        else:
            html = css_cell = js_cell = "–"
        err = errors(label)
        ecell = "–" if err is None else f"{err:,} / {total(w.get('reqs')):,}"
        lines.append(
            f"| {label} `{s['spec'].replace('|', chr(92) + '|')}` | {rps}{flag} | {w.get('p50', '–')} | {w.get('p99', '–')} "
            f"| {ecell} | {qcell} | {html} | {css_cell} | {js_cell} |"
        )
        if label in carts:
            c = carts[label]
            (notes if c["empty"] else infos).append(
                f"`{label}`: {c['carts']:,} carts created during the scenario (warm-up included), "
                f"{c['empty']} of them without a line (failed adds, counted as errors)."
            )
        if "post" in s["targets"]:
            r = num(rps)
            ok = r is not None and r >= TARGET_POST_RPS and err == 0
            checks.append(
                f"- [{'x' if ok else ' '}] `{label}` ≥ {TARGET_POST_RPS} req/s with 0 errors: "
                f"{rps} req/s, {'not measured' if err is None else f'{err} errors'}: {'PASS' if ok else 'FAIL'}"
            )
        # checks
        if "rps" in s["targets"]:
            r = num(rps)
            if r is None or items_rps is None:
                checks.append(
                    f"- [ ] `{label}` req/s ≥ {TARGET_RPS_SHARE:.0%} of bare `/items/`: not measured "
                    "(run with --hello)"
                )
            else:
                ok = r >= TARGET_RPS_SHARE * items_rps
                checks.append(
                    f"- [{'x' if ok else ' '}] `{label}` req/s {r:.1f} ≥ {TARGET_RPS_SHARE:.0%} × bare "
                    f"`/items/` {items_rps:.1f} = {TARGET_RPS_SHARE * items_rps:.1f}: "
                    f"{'PASS' if ok else 'FAIL'} (ratio {r / items_rps:.2f})"
                )
        if "cold" in q and not s["spec"].startswith("POST:"):
            wq, cq = q["warm"]["queries"], q["cold"]["queries"]
            rq = q.get("rendered", {}).get("queries", 0)
            ok = max(wq, rq) <= TARGET_QUERIES
            extra = f"; cold {cq}{' (over)' if cq > TARGET_QUERIES else ''}"
            if "rendered" in q:
                extra += f"; rendered afresh {rq}"
            checks.append(
                f"- [{'x' if ok else ' '}] `{label}` ≤ {TARGET_QUERIES} queries: warm {wq}{extra}: "
                f"{'PASS' if ok else 'FAIL'}"
            )
        if b and "html" in s["targets"]:
            ok = b["encoding"] == "gzip" and b["html_wire"] <= TARGET_HTML_GZIP
            checks.append(
                f"- [{'x' if ok else ' '}] `{label}` HTML {b['html_wire']:,} B gzip ≤ {TARGET_HTML_GZIP:,}: "
                f"{'PASS' if ok else 'FAIL'}"
            )
        if b:
            css = sum(a.get("wire", 0) for a in b["css"])
            ok = css <= TARGET_CSS_GZIP and all(a.get("encoding") == "gzip" for a in b["css"])
            checks.append(
                f"- [{'x' if ok else ' '}] `{label}` CSS {css:,} B gzip ≤ {TARGET_CSS_GZIP:,}: "
                f"{'PASS' if ok else 'FAIL'}"
            )
            scripts = [a["url"] for a in b["js"]]
            ok = all("htmx" in Path(urlsplit(u).path).name for u in scripts) and b["inline_js"] == 0
            checks.append(
                f"- [{'x' if ok else ' '}] `{label}` JS only htmx: {', '.join(scripts) or 'no scripts'}; "
                f"inline scripts {b['inline_js']} (JSON-LD blocks {b['json_ld']} not counted): "
                f"{'PASS' if ok else 'FAIL'}"
            )
    for label, title in (
        ("bare-items", "bare Django `/items/`"),
        ("bare-hello", "bare Django `/hello/`"),
    ):
        w = wrk.get(label)
        if w:
            b = sizes.get(label, {})
            html = (
                (fmt_int(b["html_wire"]) + ("" if b.get("encoding") == "gzip" else " (no gzip)"))
                if b
                else "–"
            )
            err = errors(label)
            ecell = "–" if err is None else f"{err:,} / {total(w.get('reqs')):,}"
            lines.append(
                f"| {title} | {w['rps']} | {w['p50']} | {w['p99']} | {ecell} | – | {html} | – | – |"
            )

    out = [
        f"# Storefront benchmark {meta['started']}",
        "",
        f"- commit `{meta['commit']}`{' (+ uncommitted changes in the work tree)' if meta.get('dirty') else ''}; "
        + meta.get(
            "database",
            f"{meta['products']} synthetic products + the demo catalogue in PostgreSQL `{meta['db']}`",
        )
        + "; "
        f"cache: {meta['cache']}",
        f"- gunicorn `storefront.wsgi`, 2 sync workers, DEBUG off, 127.0.0.1; wrk `{meta['wrk_args']}` "
        f"after a 3 s warm-up, {meta['repeats']} runs, median req/s, p50, p99 "
        "(/work/shared/bench/run_wrk.sh)",
        f"- machine: {meta['cpus']} CPUs, load average at start {meta['load_start']}, at end "
        f"{meta.get('load_end', '?')}; shared with other work, so figures are noisy: "
        "compare rows of the same run, not runs.",
    ]
    if meta.get("quick"):
        out.append(
            "- **QUICK MODE**: shortened wrk runs, for checking the script only; not comparable."
        )
    out += ["", *lines, ""]
    out += at_size(run, meta, wrk, errors, checks)
    if notes:
        out += ["⚠ " + n for n in notes] + [""]
    if infos:
        out += infos + [""]
    out += ["## Targets", "", *checks, ""]
    # details: load per row, raw sizes, query shapes
    out += [
        "## Details",
        "",
        "| page | req/s per run | load avg after | HTML raw B | in-process warm ms, median of 5 (SQL ms of one) | cold ms (SQL ms) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for s in scenarios + [{"label": "bare-items"}, {"label": "bare-hello"}]:
        label = s["label"]
        w, q, b = wrk.get(label, {}), queries.get(label, {}), sizes.get(label, {})
        if not (w or q or b):
            continue
        warm = f"{q['warm']['ms']} ({q['warm']['sql_ms']})" if "warm" in q else "–"
        cold = f"{q['cold']['ms']} ({q['cold']['sql_ms']})" if "cold" in q else "–"
        out.append(
            f"| {label} | {w.get('runs', '–')} | {w.get('load', '–')} | "
            f"{fmt_int(b['html_raw']) if b else '–'} | {warm} | {cold} |"
        )
    out += ["", "Queries of the warm request, by shape (N = number, S = string):", ""]
    for s in scenarios:
        q = queries.get(s["label"], {})
        if "warm" not in q:
            if q.get("error"):
                out += [f"- `{s['label']}`: error", "", "```", q["error"][-1500:], "```"]
            continue
        out.append(f"- `{s['label']}` ({q['warm']['queries']} warm, {q['cold']['queries']} cold):")
        for sql, n in q["warm"]["shapes"]:
            out.append(f"  - {n}× `{abbreviate(sql)}`")
        cold_extra = Counter(dict(map(tuple, q["cold"]["shapes"]))) - Counter(
            dict(map(tuple, q["warm"]["shapes"]))
        )
        if cold_extra:
            out.append(
                "  - cold only: "
                + "; ".join(f"{n}× `{abbreviate(sql, 110)}`" for sql, n in cold_extra.most_common())
            )
        out.append(
            "  - slowest (warm): "
            + "; ".join(
                f"{x['ms']:g} ms `{abbreviate(x['sql'], 110)}`" for x in q["warm"]["slowest"]
            )
        )
        if "rendered" in q:
            r = q["rendered"]
            out.append(
                f"  - rendered afresh after a catalogue change: {r['queries']} queries, "
                f"{r['ms']} ms ({r['sql_ms']} ms SQL): "
                + "; ".join(f"{n}× `{abbreviate(sql, 110)}`" for sql, n in r["shapes"])
            )
    out.append("")
    text = "\n".join(out)
    (run / "results.md").write_text(text)
    print(text)


def at_size(run: Path, meta: dict, wrk: dict, errors, checks: list) -> list[str]:
    """The catalogue-size section (issue 13): seeding, fresh renders over many URLs, cold mix."""
    out = []
    seed = json.loads((run / "seed.json").read_text()) if (run / "seed.json").exists() else {}
    fresh_file = run / "fresh.jsonl"
    mix = wrk.get("cold-mix")
    if not (seed or fresh_file.exists() or mix or wrk.get("warm-mix")):
        return out
    products = seed.get("products") or meta.get("products")
    out += [f"## At size: {fmt_int(products)} products in the database", ""]
    if seed:
        took = (
            f"seeded in {seed['seed_seconds']} s (seed_demo + bench/seed_big.py)"
            if seed.get("seed_seconds") is not None
            else "reused (--reuse-db), not seeded in this run"
        )
        out += [
            f"- {took}; VACUUM ANALYZE {seed['vacuum_seconds']} s; database size {seed['db_size']}",
            "",
        ]
    synthetic = int(meta.get("products") or 0)
    list_ms, detail_ms = TARGET_FRESH_MS[1_000_000 if synthetic >= 1_000_000 else 100_000]
    if fresh_file.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import fresh

        load = (
            (run / "fresh-load.txt").read_text().split("\n")
            if (run / "fresh-load.txt").exists()
            else []
        )
        out += [
            "Fresh renders (`bench/fresh.py renders`): in-process time of a request with no cached "
            "HTML (catalogue version bumped before each), over distinct random URLs per kind; "
            f"load average at start / end: {' / '.join(x for x in load if x) or '?'}",
            "",
            fresh.summary(str(fresh_file)),
            "",
        ]
        for kind, st in fresh.stats(str(fresh_file)).items():
            bound = detail_ms if kind == "detail" else list_ms
            ok = st["p99"] <= bound
            checks.append(
                f"- [{'x' if ok else ' '}] fresh `{kind}` p99 {st['p99']:.1f} ms ≤ {bound} ms "
                f"(p50 {st['p50']:.1f}; queries {st['q_min']}–{st['q_max']}): {'PASS' if ok else 'FAIL'}"
            )
            slow = st["slowest"]
            out.append(
                f"- slowest `{kind}`: {slow['ms']} ms ({slow['sql_ms']} ms SQL, {slow['queries']} queries) "
                f"`{slow['path']}`"
                + (
                    f"; its slowest query {slow['slowest']['ms']} ms `{abbreviate(slow['slowest']['sql'], 140)}`"
                    if slow.get("slowest")
                    else ""
                )
            )
        out.append("")
    if mix:
        err = errors("cold-mix")
        reqs = sum(int(x) for x in (mix.get("reqs") or "").split(",") if x.strip().isdigit())
        out += [
            "Cold mix (`bench/fresh.py mix`: wrk cycling through distinct listing URLs in random "
            "order per thread, 2 gunicorn workers):",
            "",
            "| req/s | p50 ms | p99 ms | errors / requests | req/s per run | load avg after |",
            "|---:|---:|---:|---:|---|---|",
            f"| {mix['rps']} | {mix['p50']} | {mix['p99']} | {'–' if err is None else f'{err:,} / {reqs:,}'} "
            f"| {mix['runs']} | {mix['load']} |",
            "",
        ]
        try:
            rps, p99 = float(mix["rps"]), float(mix["p99"])
        except ValueError:
            rps = p99 = None
        ok = rps is not None and rps >= TARGET_MIX_RPS and p99 <= TARGET_MIX_P99 and err == 0
        checks.append(
            f"- [{'x' if ok else ' '}] cold mix ≥ {TARGET_MIX_RPS} req/s, p99 ≤ {TARGET_MIX_P99} ms, "
            f"0 errors: {mix['rps']} req/s, p99 {mix['p99']} ms, {err} errors: {'PASS' if ok else 'FAIL'}"
        )
    warm, changing = wrk.get("warm-mix"), wrk.get("stock-change")
    if warm:
        changes = (
            (run / "stock-changes.txt").read_text().strip()
            if (run / "stock-changes.txt").exists()
            else "?"
        )
        out += [
            "Warm mix and stock changes (`bench/fresh.py warm`: wrk cycling through 200 catalogue "
            "URLs fetched once before; then the same while `bench/fresh.py stock-changes` sets a "
            f"variant's stock through the shop's service every few seconds: {changes}):",
            "",
            "| run | req/s | p50 ms | p99 ms | errors / requests | req/s per run | load avg after |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        for label, row in (("warm-mix", warm), ("stock-change", changing)):
            if not row:
                continue
            err = errors(label)
            reqs = sum(int(x) for x in (row.get("reqs") or "").split(",") if x.strip().isdigit())
            out.append(
                f"| {label} | {row['rps']} | {row['p50']} | {row['p99']} | "
                f"{'–' if err is None else f'{err:,} / {reqs:,}'} | {row['runs']} | {row['load']} |"
            )
        out.append("")
        if changing:
            try:
                ratio = float(changing["p99"]) / float(warm["p99"])
            except (ValueError, ZeroDivisionError):
                ratio = None
            # timed-out requests have no latency in wrk's p99: any error fails the check
            ok = ratio is not None and ratio <= 2 and errors("stock-change") == 0
            checks.append(
                f"- [{'x' if ok else ' '}] p99 under stock changes {changing['p99']} ms ≤ 2 × warm p99 "
                f"{warm['p99']} ms, 0 errors ({errors('stock-change')}): {'PASS' if ok else 'FAIL'}"
                + (f" (ratio {ratio:.2f})" if ratio is not None else "")
            )
    return out


def main(argv):
    if len(argv) >= 2 and argv[0] == "_one":
        print(json.dumps(queries_one(argv[1])))
    elif len(argv) >= 2 and argv[0] == "queries":
        cmd_queries(argv[1], argv[2:])
    elif len(argv) >= 3 and argv[0] == "bytes":
        cmd_bytes(argv[1], argv[2], argv[3:])
    elif argv == ["variant"]:
        cmd_variant()
    elif len(argv) == 4 and argv[0] == "visitors":
        cmd_visitors(int(argv[1]), argv[2], argv[3])
    elif argv == ["carts-mark"]:
        cmd_carts_mark()
    elif len(argv) == 2 and argv[0] == "carts-check":
        cmd_carts_check(int(argv[1]))
    elif len(argv) == 3 and argv[0] == "report":
        cmd_report(argv[1], argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    main(sys.argv[1:])
