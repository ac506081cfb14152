"""The shopper's language: English or Kiswahili, chosen once and remembered.

Which language a request is served in, first that applies:

1. the language cookie (``settings.LANGUAGE_COOKIE_NAME``), set by the switch,
   by the profile page, and on signing in to an account that saved a language
   (``User.language``), so a shopper's choice follows them to a new phone;
2. the browser's ``Accept-Language``;
3. ``settings.LANGUAGE_CODE``.

Working it out needs neither the session nor the database. The switch is a
plain form (``set_language``): it works without JavaScript, sets the cookie
and, for a signed-in shopper, saves the choice on the account so their
emails and texts use it too. URLs are the same in every language;
the page cache keys on the active language (``shop.fragments``).
"""

from django.conf import settings
from django.http import HttpResponseRedirect
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST


def supported(code: str | None) -> str | None:
    """Return *code* if the shop speaks it (``settings.LANGUAGES``), else None."""
    return code if code in dict(settings.LANGUAGES) else None


def language_for(user=None, fallback: str | None = None) -> str:
    """Return the language to write to *user* in: their saved one, else *fallback*."""
    saved = supported(getattr(user, "language", "") or "")
    return saved or supported(fallback) or settings.LANGUAGE_CODE


def use_saved_language(sender, request, user, **kwargs) -> None:
    """On signing in (``user_logged_in``), the account's saved language becomes the
    browser's: ``LanguageMiddleware`` sets the cookie on the response."""
    language = supported(getattr(user, "language", "") or "")
    if language and request is not None:
        request.signed_in_language = language


class LanguageMiddleware:
    """Activate the request's language for the view and templates."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        saved = getattr(request, "signed_in_language", None)
        if saved and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != saved:
            remember(response, saved)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


def here(request) -> str:
    """Return the URL to come back to after switching: the page as its form cleaned
    its parameters when it says (``request.canonical_query``), else as asked."""
    query = getattr(request, "canonical_query", None)
    if query is None:
        return request.get_full_path()
    return request.path + ("?" + query if query else "")


def context(request) -> dict:
    """Template context: ``language_next``, where the language switch comes back to."""
    return {"language_next": here(request)}


def _next_url(request) -> str:
    for candidate in (request.POST.get("back"), request.META.get("HTTP_REFERER")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return "/"


def remember(response, language: str) -> None:
    """Set the language cookie on *response*: the choice outlives signing out."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@require_POST
def set_language(request):
    """Switch the shopper's language and go back where they were.

    An unknown language changes nothing. A signed-in shopper's choice is saved on
    their account (their emails and texts follow it) as well as in the cookie.
    """
    response = HttpResponseRedirect(_next_url(request))
    language = supported(request.POST.get("language"))
    if language is None:
        return response
    remember(response, language)
    user = request.user
    if user.is_authenticated and getattr(user, "language", language) != language:
        user.language = language
        user.save(update_fields=["language"])
    return response
