from django.conf import settings

from .queries import category_tree


def shop(request):
    """Site-wide context: the shop's name and the category navigation."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "nav_categories": lambda: category_tree().roots,
    }
