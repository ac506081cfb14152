"""Search that forgives: shoppers' misspellings corrected to the catalogue's words.

The catalogue's own words make the vocabulary: brand, product and category
names (the words a correction may lead to), every other word of the
products' search text (known, so never corrected, and a correction's last
resort), and a few words shoppers use for kinds the catalogue names
otherwise ("powerbank" for "power bank", "earphones" for "earbuds").

Building it reads every active product, so it never happens inside a
shopper's request while any vocabulary exists (``vocabulary``):

- With a shared cache (Redis, as in production) the last vocabulary built
  is kept there, with the catalogue version it was built for, and each
  process keeps its own copy while that version stands. A request that
  finds the catalogue changed since serves the copy it has (a new product's
  words are missing for a moment; the plain search still finds it) and
  queues one rebuild for the background worker
  (``shop.tasks.rebuild_search_vocabulary``), at most one per catalogue
  version across all processes.
- Only when there is no vocabulary at all (a fresh deploy, the cache
  flushed) does a request build one itself, once per process, and only for
  a catalogue of up to ``INLINE_BUILD_MAX_PRODUCTS`` products; past that it
  searches uncorrected until the worker's build lands.
- Without a shared cache (no ``REDIS_URL``: development, tests) the worker's
  build could not reach the web processes, so each process builds its own,
  in the request, once per catalogue version, as small catalogues afford.

The words are counted in Python, a chunk of products at a time, so memory
stays flat however large the catalogue (``COUNT_WORDS_IN_SQL`` says why not
in PostgreSQL).

``correct_query`` leaves every word the plain search would find alone.
Another word is split into two catalogue words ("smarttv" → "smart tv"),
joined with its neighbour ("play station" → "playstation"), or replaced by
the nearest catalogue word: one edit away for words of up to five letters,
two for longer ones, a swap of neighbouring letters counting as one edit
(optimal string alignment, the restricted Damerau-Levenshtein distance:
"iphnoe" → "iphone", "sprak" → "spark"). Words with digits or other
signs (models, SKUs, sizes) are never corrected.
"""

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count

from storefront.cache import status as cache_status

from . import fragments
from .models import Product

logger = logging.getLogger(__name__)

#: This process's vocabulary when the cache is not shared (``fragments.versioned``).
VOCABULARY_KEY = "shop:search-vocabulary:v1"
VOCABULARY_SECONDS = 60 * 60
#: The last vocabulary built, as ``(version, Vocabulary)``, when the cache is
#: shared; and the version alone, small enough to read with every search.
STORED_VOCABULARY_KEY = "shop:search-vocabulary:v2"
STORED_VERSION_KEY = "shop:search-vocabulary-version:v2"
#: Taken (``cache.add``) by the request that queues the rebuild for a
#: catalogue version; a rebuild that never finished is queued again after it.
REBUILD_LOCK_KEY = "shop:search-vocabulary-rebuild:{}"
REBUILD_LOCK_SECONDS = 10 * 60
#: Past this many active products a request never builds the vocabulary.
INLINE_BUILD_MAX_PRODUCTS = 20_000
MAX_QUERY_CHARS = 100
MAX_SUGGESTIONS = 3
MAX_REMEMBERED = 2000
#: Words past these are searched as typed: correction costs time per word.
MAX_CORRECTED_WORDS = 8

#: Words shoppers use for a kind of product, and the catalogue's words for
#: it. Used only when the shopper's word is not in the catalogue and all of
#: the catalogue's words are.
KIND_SYNONYMS = {
    "powerbank": "power bank",
    "powerbanks": "power banks",
    "earphones": "earbuds",
    "earphone": "earbuds",
    "earpods": "earbuds",
    "headset": "headphones",
    "headsets": "headphones",
    "headphone": "headphones",
    "cellphone": "phone",
    "cellphones": "phones",
    "mobile": "phone",
    "mobiles": "phones",
    "notebook": "laptop",
    "notebooks": "laptops",
    "television": "tv",
    "televisions": "tvs",
    "telly": "tv",
    "smartwatch": "watch",
    "smartwatches": "watch",
    "charging": "charger",
    "adaptor": "adapter",
    "console": "playstation",
}

_WORD = re.compile(r"[^\W\d_]+")  # runs of letters, in any script


@dataclass
class Vocabulary:
    """The catalogue's words, as ``correct_query`` needs them."""

    #: Every word of the products' search text, joined by spaces: a query word
    #: found in it (as a whole word or part of one) is one the search finds.
    text: str
    #: Brand, product and category names and kind synonyms, with how often
    #: each is used: the words corrections lead to, most used first.
    names: dict[str, int]
    #: The other words of the search text, with how often each is used.
    others: dict[str, int]
    #: Every word, for splitting and joining.
    words: frozenset[str] = field(default_factory=frozenset)
    #: Queries corrected with this vocabulary: the search page corrects its
    #: query up to three times (title, listing, sidebar counts).
    corrected: dict[str, str] = field(default_factory=dict, repr=False)

    def knows(self, word: str) -> bool:
        return word in self.text


#: ASCII characters that are neither letters nor "case-ignorable" (lower()
#: looks past ' . : ^ ` to choose the final form of a Greek sigma): SQL can
#: split the text at them and ``_WORD`` finds the same words in the pieces,
#: lower-cased one by one, as in the whole. Every other character, any
#: non-ASCII one included, is left for Python to judge.
_SQL_SPLIT = (
    "["
    + "".join(
        f"\\x{c:02x}" for c in range(1, 128) if not chr(c).isalpha() and chr(c) not in "'.:^`"
    )
    + "]+"
)
_NAMES, _TEXT = 0, 1
#: Count the words in SQL on PostgreSQL (``_count_words_in_sql``). Off: on
#: 100,000 products PostgreSQL took 3.7-4.9 s (2.6 s without JIT) on three
#: processes where Python takes 1.8-2.3 s of the worker's time, the database
#: only streaming the rows. Both find the same words (test_search_vocabulary).
COUNT_WORDS_IN_SQL = False


def _words(texts: list[str]) -> Counter:
    """Count the words of *texts* (runs of letters), lower-cased."""
    counts: Counter = Counter()
    # Split on spaces first: the pattern then runs once per distinct token
    # that is not a plain word (SKUs, sizes), not over all the text.
    for token, times in Counter(" ".join(texts).lower().split()).items():
        if token.isalpha():
            counts[token] += times
        else:
            for word in _WORD.findall(token):
                counts[word] += times
    return counts


def _count_words_in_python() -> tuple[Counter, Counter]:
    """Return the words of the products' names and of their search text: one query."""
    rows = Product.objects.active().values_list(
        "name", "brand__name", "category__name", "category__parent__name", "search_text"
    )
    names: Counter = Counter()
    everything: Counter = Counter()
    name_texts: list[str] = []
    search_texts: list[str] = []
    for name, brand, category, parent, search_text in rows.iterator(chunk_size=2000):
        name_texts.extend(w for w in (name, brand, category, parent) if w)
        search_texts.append(search_text or "")
        if len(search_texts) == 2000:  # counted by the chunk: memory stays flat
            names.update(_words(name_texts))
            everything.update(_words(search_texts))
            name_texts, search_texts = [], []
    names.update(_words(name_texts))
    everything.update(_words(search_texts))
    return names, everything


def _count_words_in_sql() -> tuple[Counter, Counter]:
    """Return what ``_count_words_in_python`` does, counted by PostgreSQL: one query.

    The database splits the names and search texts into pieces at
    ``_SQL_SPLIT`` and counts each distinct piece; brand and category names
    are split once per name, counted by their products. Python lower-cases
    each distinct piece and finds its words.
    """
    active = Product.objects.active().order_by()
    rows, rows_params = active.values("name", "search_text").query.sql_with_params()
    union, params = [], []
    for kind, column in ((_NAMES, "p.name"), (_TEXT, "p.search_text")):
        union.append(
            f"SELECT {kind}, piece, count(*) FROM ({rows}) AS p, "
            f"regexp_split_to_table({column}, %s) AS piece WHERE piece <> '' GROUP BY piece"
        )
        params += [*rows_params, _SQL_SPLIT]
    for column in ("brand__name", "category__name", "category__parent__name"):
        groups = (
            active.values(column).annotate(products=Count("pk")).values_list(column, "products")
        )
        sql, sql_params = groups.query.sql_with_params()
        union.append(
            f"SELECT {_NAMES}, piece, sum(g.products) FROM ({sql}) AS g(name, products), "
            f"regexp_split_to_table(g.name, %s) AS piece WHERE piece <> '' GROUP BY piece"
        )
        params += [*sql_params, _SQL_SPLIT]
    counts: tuple[Counter, Counter] = (Counter(), Counter())
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(union), params)
        for kind, piece, times in cursor.fetchall():
            for word in _WORD.findall(piece.lower()):
                counts[kind][word] += times
    return counts


def build_vocabulary() -> Vocabulary:
    """Read the active products' words: one query."""
    if COUNT_WORDS_IN_SQL and connection.vendor == "postgresql":
        names, everything = _count_words_in_sql()
    else:
        names, everything = _count_words_in_python()
    for word in names:
        everything.setdefault(word, names[word])
    for synonym, meaning in KIND_SYNONYMS.items():
        if synonym not in everything and all(w in everything for w in meaning.split()):
            names.setdefault(synonym, 0)
    others = {w: n for w, n in everything.items() if w not in names and len(w) > 1}
    return Vocabulary(
        text=" ".join(sorted(everything)),
        names={
            w: n
            for w, n in sorted(names.items(), key=lambda item: (-item[1], item[0]))
            if len(w) > 1
        },
        others=dict(sorted(others.items(), key=lambda item: (-item[1], item[0]))),
        words=frozenset(everything),
    )


# The vocabulary this process built or fetched last, with the catalogue
# version it was built for (0: built while a change was settling).
_built: tuple[int, Vocabulary] | None = None
# The catalogue version this process last queued a rebuild for, and when.
_queued: tuple[int, float] | None = None
# When this process last found the catalogue too large to build in a request.
_too_large_at: float | None = None


def vocabulary() -> Vocabulary:
    """Return the catalogue's vocabulary: the current one, or the last one built.

    A warm request (this process has the vocabulary of the current
    catalogue version) costs one cache read and no query. After a change:
    the stored vocabulary is served and a rebuild queued (one query, by one
    request per catalogue version); see the module's docstring for when a
    request builds one itself.
    """
    global _built
    if not fragments._cache_is_shared():
        return _vocabulary_of_this_process()
    found = cache.get_many([fragments.VERSION_KEY, fragments.CHANGED_KEY, STORED_VERSION_KEY])
    version = found.get(fragments.VERSION_KEY)
    changed_at = found.get(fragments.CHANGED_KEY, 0.0)
    if version is None:
        version, changed_at = fragments.catalogue_version()
    built = _built
    if built is not None and built[0] == version:
        return built[1]
    stored_version = found.get(STORED_VERSION_KEY)
    if built is None or (stored_version is not None and stored_version > built[0]):
        stored = cache.get(STORED_VOCABULARY_KEY)
        if _is_stored(stored) and (built is None or stored[0] > built[0]):
            built = _built = stored
    if built is None:
        vocab = _build_first(version, changed_at)
        if vocab is None:
            _queue_rebuild(version, changed_at)
            return Vocabulary(text="", names={}, others={})  # corrects nothing
        built = _built
    if built[0] != version:
        _queue_rebuild(version, changed_at)
    return built[1]


def _is_stored(value) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], Vocabulary)
    )


def _settled(changed_at: float) -> bool:
    return time.time() >= changed_at + fragments.SETTLE_SECONDS


def _vocabulary_of_this_process() -> Vocabulary:
    """Return the vocabulary built by this process for the current catalogue version.

    One query when the catalogue changed and no process sharing this cache
    has built it for the new version yet.
    """
    global _built
    version, changed_at = fragments.catalogue_version()
    built = _built
    if built is not None and built[0] == version:
        return built[1]
    found = fragments.versioned(VOCABULARY_KEY, build_vocabulary, VOCABULARY_SECONDS)
    if _settled(changed_at):
        _built = (version, found)
    return found


def _build_first(version: int, changed_at: float) -> Vocabulary | None:
    """Build and store the vocabulary in the request when none exists anywhere.

    Return None instead when the catalogue is too large to build it here
    (counted once per REBUILD_LOCK_SECONDS).
    """
    global _too_large_at
    now = time.monotonic()
    if _too_large_at is not None and now < _too_large_at + REBUILD_LOCK_SECONDS:
        return None
    if Product.objects.active().count() > INLINE_BUILD_MAX_PRODUCTS:
        _too_large_at = now
        return None
    built = (version if _settled(changed_at) else 0, build_vocabulary())
    _store(built)
    return built[1]


def _store(built: tuple[int, Vocabulary]) -> None:
    """Keep *built* as this process's vocabulary and share it, unless a newer one is shared."""
    global _built
    _built = built
    stored_version = cache.get(STORED_VERSION_KEY)
    if stored_version is None or built[0] > stored_version:
        # The vocabulary first: a reader that sees the new version finds it.
        cache.set(STORED_VOCABULARY_KEY, built, None)
        cache.set(STORED_VERSION_KEY, built[0], None)


def _queue_rebuild(version: int, changed_at: float) -> None:
    """Queue ``rebuild_vocabulary`` for *version*, unless queued already.

    Due once the change has settled (SETTLE_SECONDS), so the worker reads
    what it committed. Nothing is queued while the shared cache is away:
    the build could not be shared.
    """
    global _queued
    now = time.monotonic()
    queued = _queued
    if queued is not None and queued[0] >= version and now < queued[1] + REBUILD_LOCK_SECONDS:
        return
    _queued = (version, now)
    if cache_status().get(settings.CACHES["default"].get("LOCATION")):
        return
    if not cache.add(REBUILD_LOCK_KEY.format(version), True, REBUILD_LOCK_SECONDS):
        return
    from .tasks import rebuild_search_vocabulary  # the tasks import the services

    rebuild = rebuild_search_vocabulary
    due = changed_at + fragments.SETTLE_SECONDS
    if due > time.time() and rebuild.get_backend().supports_defer:
        rebuild = rebuild.using(run_after=datetime.fromtimestamp(due, tz=UTC))
    try:
        rebuild.enqueue()
    except Exception:  # the search goes on uncorrected by the new words; the next one asks again
        logger.exception("Could not queue the search vocabulary's rebuild")
        cache.delete(REBUILD_LOCK_KEY.format(version))
        _queued = None


def rebuild_vocabulary() -> Vocabulary:
    """Build the vocabulary of the current catalogue version and share it.

    Run by the worker (``shop.tasks.rebuild_search_vocabulary``); nothing
    is built when the shared vocabulary is the current version's already.
    When the words changed, the listings of every product (the scope
    ``all``: search pages among them) are marked changed, so a search page
    stored with the old words renders again. A vocabulary built while a
    newer change was still settling is kept only if none was shared yet:
    the requests that see that change queue its own rebuild.
    """
    version, changed_at = fragments.catalogue_version()
    settled = _settled(changed_at)
    stored = cache.get(STORED_VOCABULARY_KEY)
    previous = stored[1] if _is_stored(stored) else None
    if settled and previous is not None and stored[0] == version:
        return previous  # built already, by an earlier rebuild of this version
    started = time.monotonic()
    vocab = build_vocabulary()
    _store((version if settled else 0, vocab))
    logger.info(
        "Built the search vocabulary of catalogue version %s in %.2f s (%d words)",
        version,
        time.monotonic() - started,
        len(vocab.words),
    )
    if settled and (previous is None or _words_differ(previous, vocab)):
        fragments.products_changed((), scopes=("all",))
    return vocab


def _words_differ(old: Vocabulary, new: Vocabulary) -> bool:
    """Return whether *new* knows other words or names than *old* (counts aside)."""
    return old.words != new.words or old.names.keys() != new.names.keys()


def forget_vocabulary() -> None:
    global _built, _queued, _too_large_at
    _built = None
    _queued = None
    _too_large_at = None


def distance(a: str, b: str, limit: int) -> int:
    """Return the edits from *a* to *b* (a neighbour swap is one), or *limit* + 1 past it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def edit_limit(word: str) -> int:
    return 1 if len(word) <= 5 else 2


def nearest(word: str, candidates: dict[str, int], limit: int) -> list[tuple[int, str]]:
    """Return (distance, word) for the *candidates* within *limit*, nearest and most used first."""
    found = []
    for order, candidate in enumerate(candidates):
        if candidate != word and abs(len(candidate) - len(word)) <= limit:
            edits = distance(word, candidate, limit)
            if edits <= limit:
                found.append((edits, order, candidate))
    return [(edits, candidate) for edits, _, candidate in sorted(found)]


def _correctable(word: str) -> bool:
    return len(word) >= 3 and word.isalpha()


def _meaning(word: str, vocab: Vocabulary) -> str:
    """Return the catalogue's words for *word* when it is a kind synonym."""
    return KIND_SYNONYMS[word] if word in KIND_SYNONYMS and word in vocab.names else word


def correct_word(word: str, vocab: Vocabulary) -> str:
    """Return the catalogue's word(s) for one query *word*, or *word* itself."""
    if not _correctable(word) or vocab.knows(word):
        return word
    if word in vocab.names:  # a kind synonym
        return _meaning(word, vocab)
    splits = [
        (word[:k], word[k:])
        for k in range(2, len(word) - 1)
        if word[:k] in vocab.names and word[k:] in vocab.names
    ]
    if splits:
        first, second = max(splits, key=lambda s: vocab.names[s[0]] + vocab.names[s[1]])
        return f"{first} {second}"
    limit = edit_limit(word)
    for candidates in (vocab.names, vocab.others):
        found = nearest(word, candidates, limit)
        if found:
            return _meaning(found[0][1], vocab)
    return word


def clean_query(query: str) -> str:
    """Return *query* as search reads it: one space between words, lower case, at most 100 chars."""
    return " ".join(query.split())[:MAX_QUERY_CHARS].lower()


@dataclass
class Correction:
    """What the shopper asked for, and what the shop searched for."""

    original: str
    corrected: str
    exact: bool = False
    vocab: Vocabulary | None = field(default=None, repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return self.corrected != self.original

    @property
    def searched(self) -> str:
        return self.original if self.exact else self.corrected

    @cached_property
    def suggestions(self) -> list[str]:
        """Return up to three queries near this one that use the catalogue's words.

        For the page that found nothing: each word the catalogue does not
        know is replaced by one of its nearest catalogue names (for words
        of six letters or more, one edit further than a correction reaches).
        """
        vocab = self.vocab
        if vocab is None:
            return []
        words = self.searched.split()
        found: list[tuple[int, int, str]] = []
        if self.exact and self.changed:
            found.append((0, 0, self.corrected))
        for index, word in enumerate(words[:MAX_CORRECTED_WORDS]):
            if not _correctable(word) or vocab.knows(word):
                continue
            reach = edit_limit(word) + (len(word) > 5)
            for edits, candidate in nearest(word, vocab.names, reach)[:3]:
                replaced = [*words[:index], _meaning(candidate, vocab), *words[index + 1 :]]
                found.append((edits, index, " ".join(replaced)))
        suggestions = []
        for _, _, query in sorted(found, key=lambda item: (item[0], item[1])):
            if query not in suggestions and query != self.searched:
                suggestions.append(query)
        return suggestions[:MAX_SUGGESTIONS]


def correct_query(query: str, *, exact: bool = False) -> Correction:
    """Return the correction of *query* (``corrected`` is the cleaned query when it needs none).

    With *exact*, nothing is corrected (``searched`` is the shopper's query),
    but the vocabulary is still at hand for suggestions.
    """
    original = clean_query(query)
    if not original:
        return Correction(original, original, exact)
    vocab = vocabulary()
    corrected = vocab.corrected.get(original)
    if corrected is None:
        corrected = _correct_words(original.split(), vocab)
        if len(vocab.corrected) >= MAX_REMEMBERED:
            vocab.corrected.clear()
        vocab.corrected[original] = corrected
    return Correction(original, corrected, exact, vocab)


def _correct_words(words: list[str], vocab: Vocabulary) -> str:
    corrected: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        joined = word + following
        if (
            following
            and index < MAX_CORRECTED_WORDS
            and _correctable(word)
            and following.isalpha()
            and joined in vocab.names
            and not (word in vocab.words and following in vocab.words)
        ):
            corrected.append(_meaning(joined, vocab))
            index += 2
            continue
        corrected.append(correct_word(word, vocab) if index < MAX_CORRECTED_WORDS else word)
        index += 1
    return " ".join(corrected)
