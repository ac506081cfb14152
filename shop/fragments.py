"""Rendered catalogue HTML, cached per URL and kept until what it shows changes.

The catalogue pages spend most of their time rendering product cards
(thumbnails, wishlist forms) and running the queries behind them. The parts
that are the same for every visitor are rendered once and kept in the cache
under the page's path and *cleaned* parameters (what its form accepted:
junk or tracking parameters make no new entry). An entry goes stale in
three ways, from the widest to the narrowest:

- The *catalogue version*: a change that can touch any page (a category,
  brand, banner or product renamed, added, hidden; a bulk import) bumps it
  (``catalogue_changed``) and every entry stored before is stale at once.
- A *list scope*: each listing names what it lists (``all``,
  ``category:<id>``, ``brand:<slug>``); a change that can move a product
  into, out of or within a list, or change its counts (a price, a variant,
  stock running out or coming back, a rating), marks the scopes the product
  is in (``products_changed(ids, scopes)``), so only those lists render again.
- A *product*: an entry lists the products it shows, and a change to one of
  them (its stock count, a picture, a specification) marks it, which makes
  the entries showing it stale: its page, the listings and shelves it is on.

So a stock count changing during a sale makes a handful of pages render
again, not the whole catalogue. The catalogue services call these for the
changes they make, and the receivers in ``shop.signals`` for rows saved
anywhere else; code that changes catalogue rows with ``QuerySet.update()``
or ``bulk_*()`` (no signals) calls them itself.

Nothing that differs between visitors is ever stored:

- CSRF tokens: fragments and pages are rendered with a placeholder instead
  of a token, and each response gets the requesting visitor's own token.
- Wishlist hearts: an entry lists the products it shows. A signed-in
  shopper who saved one of them gets a fresh render with their own hearts,
  and that render is not stored.
- The cart badge, messages and recently viewed products live outside the
  fragments and are rendered for every request.

Fragments are rendered without context processors, from the values passed
in only, so a per-visitor value cannot slip into an entry unnoticed.

Whole pages, for visitors with nothing of their own: a visitor who sends
no cookie but the CSRF and language ones (no session, so no cart, sign-in
or messages; no recently viewed products) sees exactly what every such
visitor sees, per language. For them ``respond`` keeps the whole page in
the fragment's entry (it goes stale with it) and serves it without
rendering anything: most first visits, shared links and crawlers. Any
other cookie gets the page rendered around the stored fragments.

The version lives in the default cache. Redis (``REDIS_URL``) shares it
between processes; the per-process memory cache does not, so there entries
live only briefly (a change made by another process, e.g. the task worker
releasing stock, shows within ``LOCAL_SECONDS``).
"""

import hashlib
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache as memoize
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.template import loader
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from storefront.memo import ExpiringLRU

from .models import WishlistItem

VERSION_KEY = "shop:catalogue-version"
CHANGED_KEY = "shop:catalogue-changed-at"
SHARED_SECONDS = 60 * 60
LOCAL_SECONDS = 30
SETTLE_SECONDS = 5
PRODUCT_MARK = "shop:changed:product:{}"
SCOPE_MARK = "shop:changed:scope:{}"
# A mark must outlive every entry stored before it was set.
MARK_SECONDS = SHARED_SECONDS + SETTLE_SECONDS + 60
# Stands in for the CSRF token in stored HTML; the {% csrf_token %} tag
# escapes its value, and this one needs no escaping.
CSRF_PLACEHOLDER = "csrf-token-placeholder-4d1c9a7e"

# The sources and settings that shape the stored HTML: a deploy that changes
# one of them gets new keys instead of serving HTML rendered by the old code.
_SOURCES = [
    "templates/base.html",
    "templates/shop/home.html",
    "templates/shop/product_list.html",
    "templates/shop/product_detail.html",
    "templates/shop/_add_to_cart.html",
    "templates/components/*.html",
    "shop/templatetags/*.py",
    "storefront/money.py",
    "shop/filters.py",
    "shop/search.py",
    "shop/queries.py",
    "shop/models/catalogue.py",
    "shop/views/catalogue.py",
    "shop/fragments.py",
    "shop/context_processors.py",
    "storefront/i18n.py",
    "locale/*/LC_MESSAGES/django.po",
]
_SETTINGS = [
    "PRODUCTS_PER_PAGE",
    "HIDE_SOLD_OUT_PRODUCTS",
    "CURRENCY",
    "MEDIA_URL",
    "STATIC_URL",
    "SITE_NAME",
]


# The catalogue version and the change marks ---------------------------------
#
# A change bumps the version (or sets its marks) at once, inside the changing transaction, so
# that transaction and everything after its commit sees the new version.
# Between the bump and the commit, other requests already see the new
# version but still read the old rows: what they render then is kept only
# until SETTLE_SECONDS after the last change, never longer. (A bump in
# transaction.on_commit would be exact, but on_commit callbacks are the
# business of the code that opened the transaction: order placement, for
# one, is held to queueing nothing at all when it fails.) A transaction that
# commits more than SETTLE_SECONDS after its last catalogue change could
# leave a stale page for the full lifetime; none of the shop's does.


def _fresh_version() -> int:
    # Microseconds since the epoch: a version (re)created after the cache
    # lost it is larger than any in use before, so no old entry comes back.
    return time.time_ns() // 1000


def catalogue_version() -> tuple[int, float]:
    """Return the current catalogue version and when it last changed."""
    found = cache.get_many([VERSION_KEY, CHANGED_KEY])
    version = found.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _fresh_version(), None)
        version = cache.get(VERSION_KEY) or _fresh_version()
    return version, found.get(CHANGED_KEY, 0.0)


def request_version(request=None) -> tuple[int, bool]:
    """Return the catalogue version this request works with, and if it has settled.

    Read once per request (``fragment`` reads it with its entry); settled
    means SETTLE_SECONDS have passed since the last change.
    """
    seen = getattr(request, "_shop_catalogue_version", None)
    if seen is None:
        seen = catalogue_version()
        if request is not None:
            request._shop_catalogue_version = seen
    version, changed_at = seen
    return version, time.time() >= changed_at + SETTLE_SECONDS


def catalogue_changed() -> None:
    """Record that the catalogue changed: every stored fragment is stale."""
    # The time first: a reader must never see the new version with the old
    # time (it would keep what it renders for the full lifetime).
    cache.set(CHANGED_KEY, time.time(), None)
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not in the cache (evicted, or never read)
        cache.set(VERSION_KEY, _fresh_version(), None)


def products_changed(product_ids, scopes=()) -> None:
    """Record that these products changed, and the list scopes they are in if given.

    Stale from now on: every entry that shows one of the products, and every
    entry of one of the *scopes* (a listing, its facet counts). Each gets a
    new *mark*, a stamp that is also the time of the change: an entry keeps
    the marks it was rendered under and is stale once one differs, like the
    catalogue version, and one rendered within SETTLE_SECONDS of the change
    is kept only until then. Marks outlive every entry stored before them
    (one that expired reads as changed, never as unchanged).
    """
    stamp = time.time_ns()
    marks = {PRODUCT_MARK.format(pk): stamp for pk in set(product_ids)}
    marks.update({SCOPE_MARK.format(scope): stamp for scope in set(scopes)})
    if marks:
        cache.set_many(marks, MARK_SECONDS)


def _last_change(changed_at: float, marks: dict[str, int | None]) -> float:
    """Return when the catalogue or one of *marks* last changed, in seconds."""
    return max([changed_at, *(mark / 1e9 for mark in marks.values() if mark)])


def _product_marks(product_ids) -> dict[str, int | None]:
    keys = [PRODUCT_MARK.format(pk) for pk in product_ids]
    found = cache.get_many(keys) if keys else {}
    return {key: found.get(key) for key in keys}


# Fragments ------------------------------------------------------------------


@dataclass
class Fragment:
    """Rendered HTML parts of a page, and the little the page needs besides."""

    parts: dict[str, str]
    product_ids: frozenset[int]
    data: dict
    expires: datetime | None = None
    #: The whole page for visitors with nothing of their own (``respond``).
    page: str | None = None
    #: Where the entry is stored and as what, for ``respond`` to add the page.
    stored_as: tuple[str, dict] | None = None

    def __getitem__(self, name: str) -> SafeString:
        return mark_safe(self.parts[name])


def render_part(template_name: str, context: dict, request) -> str:
    """Render a template (or ``page.html#partial``) for storing.

    No context processors run: the template sees *context*, the request,
    the CSRF placeholder and the shopper's wishlist (``fragment`` stores
    nothing that shows a saved product) only.
    """
    template = loader.get_template(template_name)
    return template.render(
        {
            **context,
            "request": request,
            "csrf_token": CSRF_PLACEHOLDER,
            "wishlist_ids": saved_product_ids(request),
        }
    )


def saved_product_ids(request) -> set[int]:
    """Return the ids of the products on the request's shopper's wishlist.

    One query for a signed-in shopper, once per request; none for visitors.
    """
    if not request.user.is_authenticated:
        return set()
    ids = getattr(request, "_shop_wishlist_ids", None)
    if ids is None:
        ids = set(
            WishlistItem.objects.filter(user=request.user).values_list("product_id", flat=True)
        )
        request._shop_wishlist_ids = ids
    return ids


@memoize
def _sources_digest() -> str:
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for pattern in _SOURCES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.read_bytes())
    # Stored pages name the static files by their hashed names: new CSS,
    # new pages.
    manifest = Path(settings.STATIC_ROOT or root / "staticfiles") / "staticfiles.json"
    if manifest.exists():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:12]


def _key(request, name: str, query: str) -> str:
    shape = repr([_sources_digest(), *(getattr(settings, s, None) for s in _SETTINGS)])
    url = request.build_absolute_uri(request.path) + "?" + query
    language = translation.get_language()
    digest = hashlib.sha256(f"{shape} {language} {url}".encode()).hexdigest()
    return f"shop:fragment:{name}:{digest}"


@contextmanager
def _asked_as(request, query: str):
    """Let the request carry only *query* while its fragment renders.

    What a stored page shows, its links included, then depends on the cleaned
    parameters alone: a tracking tag or junk parameter in one shopper's URL
    neither makes a new entry nor ends up in the links served to others.
    """
    saved = request.GET, request.META.get("QUERY_STRING", "")
    request.GET = QueryDict(query)
    request.META["QUERY_STRING"] = query
    try:
        yield
    finally:
        request.GET, request.META["QUERY_STRING"] = saved


def _cache_is_shared() -> bool:
    """Return whether other processes see this process's cache (Redis: yes)."""
    return not isinstance(caches["default"], LocMemCache)


def _lifetime(changed_at: float, expires: datetime | None) -> int:
    """Return how many seconds a fragment rendered now may be kept."""
    seconds = SHARED_SECONDS if _cache_is_shared() else LOCAL_SECONDS
    unsettled = changed_at + SETTLE_SECONDS - time.time()
    if unsettled > 0:
        seconds = min(seconds, math.ceil(unsettled))
    if expires is not None:
        seconds = min(seconds, int((expires - timezone.now()).total_seconds()))
    return seconds


def _read_entry(key: str, scopes) -> "_Read":
    """Return the catalogue version, when it changed, the *scopes* and their marks, and entry *key*.

    The entry only if it is current: rendered under this version and marks.
    *scopes* may be a function, called only when the entry has to be read
    from the cache or rendered: a copy this process holds names its own
    (the same, as they follow from the key; a category's id, say, from the
    category tree, which only a new catalogue version changes).

    One cache round trip when this process holds a current copy of the
    entry (it then reads only the version and the marks, not the HTML); two
    otherwise (the entry, then the marks of the products it shows).
    """
    copy = _copies.get(key)
    if copy is not None:
        marks = [SCOPE_MARK.format(scope) for scope in copy["scopes"]]
        shown = [PRODUCT_MARK.format(pk) for pk in copy["product_ids"]]
        version, changed_at, found = _read_version_and(marks + shown)
        if copy["version"] == version and copy["marks"] == found:
            scope_marks = {mark: found[mark] for mark in marks}
            return _Read(version, changed_at, copy["scopes"], scope_marks, copy)
    names = list(scopes() if callable(scopes) else scopes)
    version, changed_at, found = _read_version_and(
        [*(SCOPE_MARK.format(scope) for scope in names), key]
    )
    stored = found.pop(key)
    if not (
        isinstance(stored, dict)
        and stored.get("version") == version
        and stored["marks"] == {**found, **_product_marks(stored["product_ids"])}
    ):
        stored = None
    else:
        _copies.put(key, stored, stored["until"])
    return _Read(version, changed_at, names, found, stored)


class _Read(NamedTuple):
    version: int
    changed_at: float
    scopes: list[str]
    scope_marks: dict[str, int | None]
    entry: dict | None


def _read_version_and(keys: list[str]) -> tuple[int, float, dict[str, object]]:
    """Return the catalogue version, when it changed and *keys*' values, in one round trip."""
    found = cache.get_many([VERSION_KEY, CHANGED_KEY, *keys])
    version = found.get(VERSION_KEY)
    if version is None:
        version, _ = catalogue_version()
    return version, found.get(CHANGED_KEY, 0.0), {key: found.get(key) for key in keys}


# The entries this process read or stored lately, until they expire.
#
# A page served from the cache then costs a read of the version and the
# marks alone, instead of its whole HTML each time. Whether a copy is
# current is checked against the cache on every use, like the cache's
# own entry.
_copies = ExpiringLRU(256)


def versioned(key: str, compute: Callable[[], object], seconds: int, scopes=()):
    """Return ``compute()``, cached under *key* for the catalogue version and *scopes*.

    Stale when the catalogue version moves or one of the list *scopes* is
    marked changed (``products_changed``).
    """
    version, changed_at, marks = _read_version_and(
        [key, *(SCOPE_MARK.format(scope) for scope in scopes)]
    )
    stored = marks.pop(key)
    if (
        isinstance(stored, tuple)
        and len(stored) == 3  # (version, marks, value)
        and stored[0] == version
        and stored[1] == marks
    ):
        return stored[2]
    value = compute()
    seconds = min(seconds, _lifetime(_last_change(changed_at, marks), None))
    if seconds > 0:
        cache.set(key, (version, marks, value), seconds)
    return value


def with_token(html: str, request) -> str:
    """Return stored *html* with the request's visitor's CSRF token in its forms."""
    if CSRF_PLACEHOLDER not in html:
        return html
    return html.replace(CSRF_PLACEHOLDER, get_token(request))  # sends the CSRF cookie too


def _has_nothing_of_their_own(request) -> bool:
    """Return whether the request's page is what every visitor like them sees.

    No cookie but the CSRF one (its token is put in per response) and the
    language one (the key has the language): no session, so no cart,
    sign-in or messages kept in it, no messages or recently viewed cookie.
    Not htmx, and asked with its cleaned parameters only: the page links
    back to itself (``storefront.i18n.here``).
    """
    allowed = (settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME)
    return (
        request.method in ("GET", "HEAD")
        and all(name in allowed for name in request.COOKIES)
        and not request.headers.get("HX-Request")
        and request.META.get("QUERY_STRING", "") == getattr(request, "canonical_query", None)
    )


def respond(request, entry: Fragment, template_name: str, context: Callable[[], dict]):
    """Answer with the page *template_name* around the stored *entry*.

    For a visitor with nothing of their own the whole page is kept in the
    entry, and served from there until the entry goes stale; anyone else
    gets it rendered with ``context()`` (and the context processors).
    """
    whole = _has_nothing_of_their_own(request)
    html = entry.page if whole else None
    if html is None:
        html = loader.render_to_string(
            template_name, {**context(), "csrf_token": CSRF_PLACEHOLDER}, request
        )
        if whole and entry.stored_as is not None:
            _keep_page(entry.stored_as, html)
    return HttpResponse(with_token(html, request))


def respond_part(request, entry: Fragment, name: str) -> HttpResponse:
    """Answer with the part *name* of *entry* alone (an htmx swap)."""
    return HttpResponse(with_token(entry.parts[name], request))


def _keep_page(stored_as: tuple[str, dict], html: str) -> None:
    key, stored = stored_as
    seconds = math.floor(stored["until"] - time.time())
    if seconds > 0:
        stored = {**stored, "page": html}
        cache.set(key, stored, seconds)
        _copies.put(key, stored, stored["until"])


def fragment(
    request,
    name: str,
    build: Callable[[], Fragment],
    *,
    query: list[tuple[str, str]],
    store: bool = True,
    scopes: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
) -> Fragment:
    """Return the page part *name* for the request's path and *query*, from the cache if stored.

    Its HTML has a placeholder for the CSRF token: answer with ``respond``
    or ``respond_part``, which put in the visitor's own.

    *query* is the request's parameters as the page's form cleaned them (the
    page shows nothing else of the query string): the entry's key, and all
    *build* sees of ``request.GET``. *build* renders the part (with
    ``render_part``) when it is missing, and may raise Http404. Its result is
    stored unless *store* is false or it shows a product on the shopper's
    wishlist; an entry showing one is not served to that shopper.

    The entry is stale when the catalogue version moved, when one of the list
    *scopes* it depends on was marked changed, or when one of the products
    it shows was (``products_changed``).
    """
    encoded = urlencode(query)
    request.canonical_query = encoded  # what links back to this page keep (storefront.i18n)
    key = _key(request, name, encoded)
    version, changed_at, scope_names, scope_marks, stored = _read_entry(key, scopes)
    request._shop_catalogue_version = (version, changed_at)
    saved = saved_product_ids(request)
    entry = None
    if stored is not None and not saved.intersection(stored["product_ids"]):
        entry = Fragment(
            stored["parts"],
            frozenset(stored["product_ids"]),
            stored["data"],
            stored["expires"],
            page=stored.get("page"),
            stored_as=(key, stored),
        )
    if entry is None:
        with _asked_as(request, encoded):
            entry = build()
        # The products' marks as they stand after the render: one set while
        # it ran bounds the lifetime like any change not yet settled.
        marks = {**scope_marks, **_product_marks(sorted(entry.product_ids))} if store else {}
        seconds = _lifetime(_last_change(changed_at, marks), entry.expires) if store else 0
        if seconds > 0 and not saved.intersection(entry.product_ids):
            stored = {
                "version": version,
                "scopes": scope_names,
                "marks": marks,
                "parts": entry.parts,
                "product_ids": sorted(entry.product_ids),
                "data": entry.data,
                "expires": entry.expires,
                "until": time.time() + seconds,
            }
            cache.set(key, stored, seconds)
            _copies.put(key, stored, stored["until"])
            entry.stored_as = (key, stored)
    return entry


# Product cards ----------------------------------------------------------------
#
# A listing rendered afresh (another filter, sort or page) shows mostly cards
# that other listings showed already; each card's template and thumbnail
# lookup are most of the render's Python time. So each card is kept on its
# own, per language and offer (a filtered listing shows the matching variant's
# price and links to it), stale with the catalogue version or the product's
# mark like every entry. A card of a product on the visitor's wishlist (its
# heart pressed) is rendered for them and not kept.

CARD_KEY = "shop:card:{}"
CARD_TEMPLATE = "components/_product_card.html"
# Stands in for the page a card's wishlist form comes back to.
NEXT_PLACEHOLDER = "next-url-placeholder-9b3f5e21"


def _card_key(product, language: str) -> str:
    offer = (
        getattr(product, "match_variant_id", None),
        getattr(product, "match_price", None),
        getattr(product, "match_compare_at", None),
        getattr(product, "match_price_max", None),
    )
    shape = f"{_sources_digest()} {settings.MEDIA_URL} {language} {product.pk} {offer}"
    return CARD_KEY.format(hashlib.sha256(shape.encode()).hexdigest())


def product_cards(context, products) -> SafeString:
    """Return the grid items of *products*' cards, from the cache where kept.

    *context* is the template's: the request, the visitor's wishlist and
    the CSRF token (the placeholder in stored parts).
    """
    products = list(products)
    if not products:
        return mark_safe("")
    request = context["request"]
    saved = context.get("wishlist_ids") or ()
    if callable(saved):
        saved = saved()
    request_version(request)  # read once per request
    version, changed_at = request._shop_catalogue_version
    language = translation.get_language()
    keys = {product.pk: _card_key(product, language) for product in products}
    marks = {product.pk: PRODUCT_MARK.format(product.pk) for product in products}
    found = cache.get_many([*keys.values(), *marks.values()])
    template = loader.get_template(CARD_TEMPLATE)
    fresh: dict[int, dict[str, object]] = {}
    items = []
    for product in products:
        mark = found.get(marks[product.pk])
        stored = found.get(keys[product.pk])
        if product.pk in saved:
            html = _render_card(template, product, True)
        elif isinstance(stored, tuple) and stored[:2] == (version, mark):
            html = stored[2]
        else:
            html = _render_card(template, product, False)
            seconds = _lifetime(_last_change(changed_at, {"mark": mark}), None)
            if seconds > 0:
                fresh.setdefault(seconds, {})[keys[product.pk]] = (version, mark, html)
        items.append(f"<li>{html}</li>")
    for seconds, entries in fresh.items():
        cache.set_many(entries, seconds)
    html = "".join(items).replace(NEXT_PLACEHOLDER, escape(request.get_full_path()))
    token = str(context.get("csrf_token", CSRF_PLACEHOLDER))
    if token != CSRF_PLACEHOLDER:
        html = html.replace(CSRF_PLACEHOLDER, token)
    return mark_safe(html)


def _render_card(template, product, wishlisted: bool) -> str:
    return template.render(
        {
            "product": product,
            "wishlist_ids": {product.pk} if wishlisted else set(),
            "csrf_token": CSRF_PLACEHOLDER,
            "wish_next": NEXT_PLACEHOLDER,
        }
    )
