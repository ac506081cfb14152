"""The search vocabulary: PostgreSQL and Python count the same words."""

import pytest
from django.db import connection

from shop import search
from shop.models import Product

from .factories import BrandFactory, CategoryFactory, make_product
from .test_search_typos import demo  # noqa: F401 - the demo catalogue fixture

pytestmark = pytest.mark.django_db


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
