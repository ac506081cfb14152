"""Template filters for account pages."""

from django import template

from accounts.phones import NORMALISED

register = template.Library()


@register.filter
def local_phone(value: str) -> str:
    """Show a stored ``254712345678`` the way Kenyans write it: ``0712 345 678``."""
    if not value or not NORMALISED.fullmatch(value):
        return value
    national = "0" + value[3:]
    return f"{national[:4]} {national[4:7]} {national[7:]}"


@register.filter(is_safe=True)
def squish(value: str) -> str:
    """Collapse runs of whitespace into single spaces and trim the ends."""
    return " ".join(str(value).split())
