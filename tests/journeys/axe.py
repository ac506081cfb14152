"""Accessibility checks for the journeys: axe-core on the page as it stands.

axe-core comes from npm at the version ``package-lock.json`` pins (``make
test`` runs ``npm ci``); it is never fetched from a CDN. Its source is
evaluated through the browser's DevTools protocol, which the shop's
Content-Security-Policy does not govern, so the policy stays as strict in
the journeys as in production and no refusal is logged.

A page with JavaScript off runs no script at all, axe's included (its
promises never settle there). For such a page the check takes a snapshot
of the document as the shopper sees it (``<noscript>`` content shown,
scripts left out), opens it at the same URL and viewport in a context of
its own with JavaScript on (one per page, closed with it), its stylesheets
still loaded from the live server, and runs axe on that.

Only critical and serious violations fail a journey; each is listed with
its rule, impact, help text, the first few elements it found and the URL.
"""

from __future__ import annotations

import functools
import weakref
from pathlib import Path

import pytest
from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("critical", "serious")
TARGETS_SHOWN = 3

#: Pages opened with JavaScript off (registered by the ``page_without_js``
#: fixture), each with the page that shows its snapshots (made when first needed).
_pages_without_js: weakref.WeakKeyDictionary[Page, Page | None] = weakref.WeakKeyDictionary()

_RUN_AXE = """async (impacts) => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")),
      summary: v.nodes[0].failureSummary,
    }));
}"""

#: Serialise the document as a browser without JavaScript renders it. Plain
#: DOM calls only: they run even where scripts are switched off.
_SNAPSHOT_WITHOUT_JS = """(() => {
  const root = document.documentElement.cloneNode(true);
  root.querySelectorAll("script, meta[http-equiv=refresh]").forEach((e) => e.remove());
  root.querySelectorAll("noscript").forEach((e) => e.replaceWith(...e.childNodes));
  return "<!doctype html>" + root.outerHTML;
})()"""


def mark_without_js(page: Page) -> None:
    """Record that *page* runs with JavaScript off (see the module's docstring)."""
    _pages_without_js[page] = None


def forget_without_js(page: Page) -> None:
    """Close the context that showed *page*'s snapshots, if one was opened."""
    copy = _pages_without_js.pop(page, None)
    if copy is not None:
        copy.context.close()


@functools.cache
def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(
            f"axe-core is not installed at {AXE_JS}: run `make test` "
            "(or `npm ci --no-audit --no-fund`) first",
            pytrace=False,
        )
    return AXE_JS.read_text(encoding="utf-8")


def _run_axe(page: Page) -> list[dict]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(_RUN_AXE, list(FAILING_IMPACTS))


def _run_axe_on_snapshot(page: Page) -> list[dict]:
    """Run axe on a script-free copy of a page that has JavaScript off."""
    cdp = page.context.new_cdp_session(page)
    try:
        html = cdp.send(
            "Runtime.evaluate", {"expression": _SNAPSHOT_WITHOUT_JS, "returnByValue": True}
        )["result"]["value"]
    finally:
        cdp.detach()
    copy = _pages_without_js[page]
    if copy is None:
        copy = page.context.browser.new_context().new_page()
        copy.route("**/*", _serve_snapshot)
        _pages_without_js[page] = copy
    copy.set_viewport_size(page.viewport_size)
    _snapshots[copy] = html
    copy.goto(page.url.split("#")[0])  # without the fragment it always loads anew
    return _run_axe(copy)


#: The snapshot each copy page is to show next.
_snapshots: weakref.WeakKeyDictionary[Page, str] = weakref.WeakKeyDictionary()


def _serve_snapshot(route) -> None:
    """Answer the copy page's navigation with its snapshot; let the rest through."""
    if route.request.is_navigation_request():
        page = route.request.frame.page
        route.fulfill(body=_snapshots[page], content_type="text/html; charset=utf-8")
    else:
        route.continue_()


def serious_violations(page: Page) -> list[dict]:
    """The critical and serious axe violations on *page* as it stands now."""
    if page in _pages_without_js:
        return _run_axe_on_snapshot(page)
    return _run_axe(page)


def expect_accessible(page: Page, state: str = "") -> None:
    """Fail listing every critical or serious axe violation on *page* now.

    *state* names what the journey has just done (``"filters applied"``), to
    tell apart several checks of one URL.
    """
    violations = serious_violations(page)
    if not violations:
        return
    where = page.url + (f" ({state})" if state else "")
    if page in _pages_without_js:
        where += " [JavaScript off]"
    lines = [f"{len(violations)} serious or critical accessibility violation(s) on {where}:"]
    for v in violations:
        shown = ", ".join(v["targets"][:TARGETS_SHOWN])
        more = len(v["targets"]) - TARGETS_SHOWN
        if more > 0:
            shown += f" and {more} more"
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}; at {shown}")
        lines.append("    " + v["summary"].replace("\n", "\n    "))
    pytest.fail("\n".join(lines), pytrace=False)
