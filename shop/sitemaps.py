from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from .models import Brand, Category, Page, Product


class StaticSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return ["shop:home", "shop:product-list", "shop:brand-list"]

    def location(self, item):
        return reverse(item)


class ProductSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8
    limit = 5000

    def items(self):
        return Product.objects.active().only("slug", "updated").order_by("id")

    def lastmod(self, obj):
        return obj.updated


class CategorySitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return Category.objects.filter(is_active=True).only("slug").order_by("id")


class BrandSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return Brand.objects.only("slug").order_by("id")


class PageSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.3

    def items(self):
        return Page.objects.only("slug", "updated").order_by("id")

    def lastmod(self, obj):
        return obj.updated


SITEMAPS = {
    "static": StaticSitemap,
    "categories": CategorySitemap,
    "brands": BrandSitemap,
    "products": ProductSitemap,
    "pages": PageSitemap,
}
