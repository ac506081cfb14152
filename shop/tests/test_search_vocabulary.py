"""The search vocabulary is rebuilt by the worker, never in a shopper's request.

With a shared cache (a Redis server of the test's own, as in production) a
search after a catalogue change serves the last vocabulary built and queues
one rebuild; the worker's build reaches every process. Runs on SQLite and
PostgreSQL (``DATABASE_URL`` picks it).
"""

import time

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from shop import fragments, search
from shop.models import Product
from shop.search import correct_query
from tests.support.redis import redis_server

from .factories import BrandFactory, CategoryFactory, make_product
from .test_jobs import run_ready_tasks
from .test_search_typos import demo, notice  # noqa: F401 - demo: the demo catalogue fixture
from .test_views import build_catalogue, count_queries, names

pytestmark = pytest.mark.django_db

REBUILD = "shop.tasks.rebuild_search_vocabulary"


@pytest.fixture(autouse=True)
def _fresh_vocabulary():
    search.forget_vocabulary()
    yield
    search.forget_vocabulary()


@pytest.fixture
def shared_cache(settings):
    """A Redis of the test's own as the default cache, shared as in production."""
    with redis_server() as server:
        settings.CACHES = {
            **settings.CACHES,
            "default": {
                "BACKEND": "storefront.cache.ResilientRedisCache",
                "LOCATION": server.url,
                "KEY_PREFIX": "vocabulary-test",
            },
        }
        yield server


@pytest.fixture
def phones():
    brand = BrandFactory(name="Samsung", slug="samsung")
    category = CategoryFactory(name="Phones", slug="phones")
    for name in ("Galaxy A15", "Galaxy S24"):
        make_product(name=name, brand=brand, category=category)
    return brand, category


def settled() -> None:
    """Move the last catalogue change SETTLE_SECONDS into the past, as waiting would."""
    cache.set(fragments.CHANGED_KEY, time.time() - fragments.SETTLE_SECONDS - 1, None)


def rebuilds() -> int:
    return DBTaskResult.objects.filter(task_path=REBUILD).count()


def another_process() -> None:
    """Start over as a process that never searched (its own copy is gone, the cache stays)."""
    search.forget_vocabulary()


def vocabulary_built(queries) -> bool:
    """Return whether the vocabulary's build query is among *queries*."""
    return any(
        "regexp_split_to_table" in q["sql"]
        or ('T4."name"' in q["sql"] and "search_text" in q["sql"])
        for q in queries
    )


def test_a_search_after_a_change_serves_the_last_vocabulary_and_the_worker_rebuilds_it(
    shared_cache, phones
):
    brand, category = phones
    settled()
    assert correct_query("galaxi").corrected == "galaxy"  # the first vocabulary, built here
    make_product(name="Zenfone 11", brand=brand, category=category)
    settled()

    client = Client()
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/search/?q=zenfome").content.decode()
    assert not vocabulary_built(queries.captured_queries)
    assert not notice(html, "search-corrected")  # the last vocabulary has no "zenfone"
    assert rebuilds() == 1
    another_process()
    with CaptureQueriesContext(connection) as queries:
        assert correct_query("zenfome").corrected == "zenfome"
    assert not vocabulary_built(queries.captured_queries)
    assert rebuilds() == 1  # one per catalogue version, whichever process asks

    assert [task.status for task in run_ready_tasks()] == ["SUCCESSFUL"]
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/search/?q=zenfome").content.decode()  # stored before: renders again
    assert "Showing results for zenfone" in notice(html, "search-corrected")
    assert "Zenfone 11" in names(html)
    assert not vocabulary_built(queries.captured_queries)
    assert rebuilds() == 1  # nothing more to rebuild


def redis_commands(server) -> int:
    """Return how many commands *server* has answered (INFO itself not counted)."""
    stats = redis.Redis.from_url(server.url).info("commandstats")
    return sum(stat["calls"] for name, stat in stats.items() if name != "cmdstat_info")


def test_a_warm_search_costs_the_one_cache_read_of_the_catalogue_version(
    shared_cache, phones, django_assert_num_queries
):
    settled()
    correct_query("galaxi")
    before = redis_commands(shared_cache)
    fragments.catalogue_version()
    version_read = redis_commands(shared_cache) - before
    before = redis_commands(shared_cache)
    with django_assert_num_queries(0):
        search.vocabulary()
    assert redis_commands(shared_cache) - before == version_read == 1


def test_the_rebuild_waits_for_the_change_to_settle(shared_cache, phones):
    settled()
    correct_query("galaxi")
    Product.objects.filter(name="Galaxy A15").update(name="Zenfone 11")
    fragments.catalogue_changed()  # just now: not settled
    correct_query("zenfome")
    task = DBTaskResult.objects.get(task_path=REBUILD)
    assert task.run_after.timestamp() >= cache.get(fragments.CHANGED_KEY) + 4
    assert run_ready_tasks() == []  # not due yet


def test_the_first_vocabulary_is_built_in_the_request_once(
    shared_cache, phones, django_assert_num_queries
):
    settled()
    with CaptureQueriesContext(connection) as queries:
        assert correct_query("galaxi").corrected == "galaxy"
    assert len(queries) == 2  # counting the products, reading their words
    assert vocabulary_built(queries.captured_queries)
    another_process()
    with django_assert_num_queries(0):  # fetched from the cache
        assert correct_query("samsng").corrected == "samsung"
    assert rebuilds() == 0


def test_a_large_catalogue_searches_uncorrected_until_the_worker_built_it(
    shared_cache, phones, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(search, "INLINE_BUILD_MAX_PRODUCTS", 1)
    settled()
    assert correct_query("galaxi").corrected == "galaxi"
    assert rebuilds() == 1
    with django_assert_num_queries(0):  # neither counted nor queued again
        assert correct_query("samsng").corrected == "samsng"
    run_ready_tasks()
    assert correct_query("galaxi").corrected == "galaxy"


def test_nothing_is_queued_while_redis_is_away(shared_cache, phones):
    settled()
    correct_query("galaxi")
    shared_cache.stop()
    fragments.catalogue_changed()
    for _ in range(3):
        assert correct_query("galaxi").corrected == "galaxy"  # this process's copy
    assert rebuilds() == 0


def test_search_pages_run_as_many_queries_for_many_products_as_for_few(shared_cache, settings):
    """With the shared cache too, a search page's queries do not grow with the catalogue."""
    settings.PRODUCTS_PER_PAGE = 2
    product = build_catalogue(3)
    urls = ["/search/?q=phone", "/search/?q=brnad", "/search/?q=brnad&exact=1"]
    small = count_queries(urls)
    for _ in range(27):
        make_product(brand=product.brand, category=product.category, prices=("1500",))
    cache.clear()
    search.forget_vocabulary()
    Client().get("/search/?q=phone")  # the first vocabulary of the new cache
    large = count_queries(urls)
    assert small == large, (small, large)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="counting words in SQL is for PostgreSQL"
)
class TestCountedInSql:
    """PostgreSQL's count of the words is Python's, letter for letter."""

    TEXTS = [
        "Ñandú Ärger Çok",
        "İSTANBUL Straße ẞIG ǅemal",
        "ΟΔΟΣ ΑΣ.Β ΑΣ'Β ΑΣ:Β ΑΣ^Β ΑΣ`Β ΑΣ-Β ΑΣ_Β",
        "x²y ½kg e\u0301clair ca\u0308fe",
        "a_b foo\u00a0bar tab\there new\nline",
        "日本語テスト ١٢٣abc ߀߁x",
        "SAM-A15-128GB usb-c 5000mAh 4.7in",
        "📱📱 emoji📱phone (boxed) [brackets] {curly} back\\slash",
        "",
    ]

    def test_on_odd_text(self):
        brand = BrandFactory(name="Ärger-Brand 2")
        category = CategoryFactory(name="ΣΟΦΙΑ", parent=CategoryFactory(name="Δρόμος"))
        for text in self.TEXTS:
            product = make_product(name=text or "plain", brand=brand, category=category)
            Product.objects.filter(pk=product.pk).update(search_text=f"{text} {text.lower()}")
        make_product(name="Hidden Thing", is_active=False)
        python = search._count_words_in_python()
        assert python[0]["ärger"] == len(self.TEXTS) + 1  # the brand's, and a name's
        assert "hidden" not in python[0]
        assert search._count_words_in_sql() == python

    def test_on_the_demo_catalogue(self, demo):  # noqa: F811
        assert search._count_words_in_sql() == search._count_words_in_python()
