from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    path("products/", views.product_list, name="product-list"),
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.category_detail, name="category-detail"),
    path("brands/", views.brand_list, name="brand-list"),
    path("brands/<slug:slug>/", views.brand_detail, name="brand-detail"),
    path("p/<slug:slug>/", views.product_detail, name="product-detail"),
]
