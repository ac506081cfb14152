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
    path("cart/", views.cart_detail, name="cart"),
    path("cart/badge/", views.cart_badge, name="cart-badge"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/lines/<int:line_id>/", views.cart_line_update, name="cart-line-update"),
    path("cart/lines/<int:line_id>/remove/", views.cart_line_remove, name="cart-line-remove"),
    path("cart/clear/", views.cart_clear, name="cart-clear"),
    path("cart/accept-prices/", views.cart_accept_prices, name="cart-accept-prices"),
    path("wishlist/", views.wishlist, name="wishlist"),
    path("wishlist/toggle/", views.wishlist_toggle, name="wishlist-toggle"),
    path(
        "wishlist/<int:item_id>/move-to-cart/",
        views.wishlist_move_to_cart,
        name="wishlist-move-to-cart",
    ),
]
