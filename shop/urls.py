from django.urls import path

from .views import cart, catalogue, checkout, orders, pages, payment, reviews

app_name = "shop"

urlpatterns = [
    path("", catalogue.home, name="home"),
    path("products/", catalogue.product_list, name="product-list"),
    path("search/", catalogue.search, name="search"),
    path("c/<slug:slug>/", catalogue.category_detail, name="category-detail"),
    path("brands/", catalogue.brand_list, name="brand-list"),
    path("brands/<slug:slug>/", catalogue.brand_detail, name="brand-detail"),
    path("p/<slug:slug>/", catalogue.product_detail, name="product-detail"),
    path("p/<slug:slug>/reviews/", reviews.product_reviews, name="product-reviews"),
    path("p/<slug:slug>/reviews/new/", reviews.review_submit, name="review-submit"),
    path("cart/", cart.cart_detail, name="cart"),
    path("cart/badge/", cart.cart_badge, name="cart-badge"),
    path("cart/add/", cart.cart_add, name="cart-add"),
    path("cart/lines/<int:line_id>/", cart.cart_line_update, name="cart-line-update"),
    path("cart/lines/<int:line_id>/remove/", cart.cart_line_remove, name="cart-line-remove"),
    path("cart/clear/", cart.cart_clear, name="cart-clear"),
    path("cart/accept-prices/", cart.cart_accept_prices, name="cart-accept-prices"),
    path("checkout/", checkout.checkout, name="checkout"),
    path("orders/", orders.order_list, name="order-list"),
    path("orders/find/", orders.order_find, name="order-find"),
    path("orders/<str:number>/", orders.order_detail, name="order-detail"),
    path("orders/<str:number>/receipt.pdf", orders.order_receipt, name="order-receipt"),
    path("orders/<str:number>/payment/", payment.payment_status, name="order-payment"),
    path(
        "orders/<str:number>/payment/resend/",
        payment.payment_resend,
        name="order-payment-resend",
    ),
    path("orders/<str:number>/cancel/", orders.order_cancel, name="order-cancel"),
    path("orders/<str:number>/reorder/", orders.order_reorder, name="order-reorder"),
    path("wishlist/", cart.wishlist, name="wishlist"),
    path("wishlist/toggle/", cart.wishlist_toggle, name="wishlist-toggle"),
    path(
        "wishlist/<int:item_id>/move-to-cart/",
        cart.wishlist_move_to_cart,
        name="wishlist-move-to-cart",
    ),
    path("pages/<slug:slug>/", pages.page_detail, name="page"),
]
