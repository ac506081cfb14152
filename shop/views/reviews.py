"""Product reviews: read them all, write one after delivery."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .. import services
from ..exceptions import ReviewError
from ..models import Product, Review

REVIEWS_PER_PAGE = 10


@require_GET
def product_reviews(request: HttpRequest, slug: str) -> HttpResponse:
    """Every approved review of a product, newest first, and the form when allowed."""
    product = get_object_or_404(
        Product.objects.active()
        .select_related("brand")
        .only("id", "name", "slug", "rating_average", "rating_count", "brand__name", "brand__slug"),
        slug=slug,
    )
    reviews = Review.objects.filter(product=product, status=Review.Status.APPROVED).select_related(
        "user"
    )
    page = Paginator(reviews.order_by("-created", "-id"), REVIEWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "product": product,
        "page": page,
        "can_review": services.can_review(user=request.user, product_id=product.pk),
        "form_values": {},
    }
    return render(request, "shop/product_reviews.html", context)


@require_POST
@login_required
def review_submit(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the shopper's review (PRG); a refusal keeps what they wrote."""
    product = get_object_or_404(Product.objects.active().only("id", "slug"), slug=slug)
    data = request.POST
    try:
        services.submit_review(
            user=request.user,
            product_id=product.pk,
            rating=data.get("rating"),
            title=data.get("title", ""),
            body=data.get("body", ""),
        )
    except ReviewError as problem:
        product = Product.objects.select_related("brand").get(pk=product.pk)
        page = Paginator(Review.objects.none(), REVIEWS_PER_PAGE).get_page(1)
        context = {
            "product": product,
            "page": page,
            "can_review": True,
            "error": problem.message,
            "form_values": {k: data.get(k, "") for k in ("rating", "title", "body")},
        }
        return render(request, "shop/product_reviews.html", context, status=400)
    messages.success(request, _("Thank you! Your review appears once our team has read it."))
    return redirect("shop:product-reviews", slug=product.slug)
