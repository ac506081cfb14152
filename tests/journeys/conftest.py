"""Fixtures for the Chromium journeys: a live server, the demo catalogue, pages.

Static files need nothing extra here: pytest-django's ``live_server`` wraps
the app in ``StaticFilesHandler`` whenever ``django.contrib.staticfiles`` is
installed, which serves ``/static/`` from the finders whatever ``DEBUG`` is,
and the top-level conftest switches to the unhashed ``StaticFilesStorage``, so
``{% htmx_script %}`` points at ``/static/django_htmx/htmx-2.min.js`` and it
loads. Media (product pictures) is not served (``SERVE_MEDIA`` is off with
``DEBUG`` off); no journey depends on pictures.
"""

import pytest
from django.core.cache import cache

from payments.tests.simulators import paying_shop, start_sim  # noqa: F401 - fixtures
from shop.demo import seed_catalogue

from . import axe


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    """Let pages use paths (``page.goto("/")``) on the live server."""
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture
def catalogue(transactional_db):
    """Load the demo catalogue (the live server needs committed rows).

    The database is flushed after every transactional test, so the cache
    goes too: it holds the category tree and thumbnail records that would
    otherwise point at the previous test's rows and media folder.
    """
    cache.clear()
    seed_catalogue()
    yield
    cache.clear()


@pytest.fixture
def page_errors(page):
    """Collect uncaught JavaScript errors and Content-Security-Policy refusals on *page*.

    A journey asserts none: a script, style or picture the policy blocks is
    reported by Chromium on the console, not as a page error.
    """
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


@pytest.fixture
def page_without_js(browser, browser_context_args):
    """A page in a fresh context with JavaScript switched off."""
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    page = context.new_page()
    axe.mark_without_js(page)
    yield page
    axe.forget_without_js(page)
    context.close()
