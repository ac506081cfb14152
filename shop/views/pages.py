"""The shop's own pages: terms, privacy, returns, delivery, contact, about."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from ..models import DeliveryZone, Page
from ..templatetags.shop_pages import support_contacts


@require_GET
def page_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One page as staff wrote it, in Kiswahili where they did; delivery adds the fees."""
    page = get_object_or_404(Page, slug=slug)
    context = {
        "page": page,
        "text": page.text_in(get_language()),
        "support": support_contacts(),
        "zones": None,
    }
    if page.slug == "delivery":
        context["zones"] = list(DeliveryZone.objects.order_by("is_fallback", "fee", "name"))
    return render(request, "shop/page.html", context)
