"""Recently viewed products: a signed cookie for visitors, rows for shoppers.

Visitors' history lives in a signed cookie rather than the session, so that
browsing the catalogue never creates a session row.
"""

from . import services

COOKIE = "recently_viewed"
MAX_AGE = 60 * 60 * 24 * 30
SALT = "shop.recently-viewed"


def from_cookie(request) -> list[int]:
    raw = request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=MAX_AGE)
    ids = []
    for part in raw.split(","):
        if part.isdigit() and int(part) not in ids:
            ids.append(int(part))
    return ids[: services.RECENTLY_VIEWED_LIMIT]


def product_ids(request) -> list[int]:
    """Return the ids of the products the request's shopper viewed, newest first."""
    if request.user.is_authenticated:
        return list(
            request.user.recently_viewed.values_list("product_id", flat=True)[
                : services.RECENTLY_VIEWED_LIMIT
            ]
        )
    return from_cookie(request)


def remember(request, response, product_id: int) -> None:
    """Record a product view for the request's shopper."""
    if request.user.is_authenticated:
        services.remember_viewed(user=request.user, product_id=product_id)
        return
    ids = [product_id] + [i for i in from_cookie(request) if i != product_id]
    response.set_signed_cookie(
        COOKIE,
        ",".join(str(i) for i in ids[: services.RECENTLY_VIEWED_LIMIT]),
        salt=SALT,
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
