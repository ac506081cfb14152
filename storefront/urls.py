from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from django.views.static import serve

from accounts import views as account_views
from shop import views as shop_views
from shop.sitemaps import SITEMAPS
from storefront import health, i18n, metrics, observability

admin.site.site_header = f"{settings.SITE_NAME} staff"
admin.site.site_title = f"{settings.SITE_NAME} staff"
admin.site.index_title = "Run the shop"

urlpatterns = [
    # Usually answered by storefront.observability.ProbeMiddleware first, whatever the Host.
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("staff/login/", account_views.staff_login, name="staff-login"),
    path("staff/", include("shop.staff")),  # the dashboard, before the admin's own pages
    path("staff/", admin.site.urls),
    path("language/", i18n.set_language, name="set-language"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", shop_views.robots_txt, name="robots-txt"),
    path("", include("payments.urls")),
    path("", include("shop.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

handler404 = "shop.views.page_not_found"
handler500 = "shop.views.server_error"
