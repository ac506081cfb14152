"""The footer's links to the shop's pages and its support contacts."""

import re
from functools import lru_cache

from django import template
from django.conf import settings
from django.urls import get_script_prefix, reverse
from django.utils.translation import gettext_lazy as _

from accounts.phones import InvalidPhoneNumber, normalise_kenyan_phone

register = template.Library()

#: The footer's label of each page (no query: the footer is on every page).
FOOTER_PAGES = (
    ("about", _("About us")),
    ("contact", _("Contact us")),
    ("delivery", _("Delivery")),
    ("returns", _("Returns and warranty")),
    ("terms", _("Terms and conditions")),
    ("privacy", _("Privacy")),
)


@lru_cache(maxsize=8)
def _page_urls(prefix: str) -> tuple[str, ...]:
    return tuple(reverse("shop:page", kwargs={"slug": slug}) for slug, _label in FOOTER_PAGES)


def whatsapp_url(number: str) -> str:
    """Return the ``https://wa.me/2547…`` link of *number*, or "" if it is blank."""
    if not number.strip():
        return ""
    try:
        digits = normalise_kenyan_phone(number)
    except InvalidPhoneNumber:
        digits = re.sub(r"\D", "", number)
    return f"https://wa.me/{digits}" if digits else ""


def support_contacts() -> dict[str, str]:
    """Return the support phone (and its tel: link), WhatsApp link and email."""
    phone = settings.SUPPORT_PHONE or ""
    return {
        "phone": phone,
        "phone_link": "tel:" + re.sub(r"[^\d+]", "", phone) if phone else "",
        "whatsapp": whatsapp_url(settings.SUPPORT_WHATSAPP or ""),
        "email": settings.SUPPORT_EMAIL or "",
    }


@register.simple_tag
def site_pages() -> dict:
    """Return the footer's page links and the support contacts."""
    urls = _page_urls(get_script_prefix())
    links = [(label, url) for (_slug, label), url in zip(FOOTER_PAGES, urls, strict=True)]
    return {"links": links, "support": support_contacts()}
