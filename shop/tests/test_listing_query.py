"""A listing URL's parameters as the filter form cleans them: the listing's cache key."""

from django.http import QueryDict

from shop.filters import _cleaned_query, listing_query


def test_parameters_are_cleaned_into_one_order():
    assert listing_query(
        QueryDict("sort=newest&brand=b&brand=a&v=junk!&min_price=100.50&page=2&utm_source=x")
    ) == [
        ("brand", "a"),
        ("brand", "b"),
        ("min_price", "100.5"),
        ("sort", "newest"),
        ("page", "2"),
    ]
    assert listing_query(QueryDict("sort=nonsense&in_stock=on&page=-3")) == [("in_stock", "true")]


def test_the_same_parameters_are_cleaned_once_per_process_but_junk_is_not_kept():
    _cleaned_query.cache_clear()
    first = listing_query(QueryDict("brand=apple&sort=price-asc"))
    again = listing_query(QueryDict("sort=price-asc&brand=apple"))
    assert first == again == [("brand", "apple"), ("sort", "price-asc")]
    assert _cleaned_query.cache_info().hits == 1
    kept = _cleaned_query.cache_info().currsize

    junk = QueryDict("q=" + "a" * 3000 + "&brand=apple")
    assert listing_query(junk) == [("brand", "apple")]  # the search is too long: dropped
    assert _cleaned_query.cache_info().currsize == kept
