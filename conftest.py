"""Test-wide set-up: production-like settings (see [tool.pytest] env) with test tweaks."""

import pytest
from django.core.cache import cache, caches

from storefront import thumbnails


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Serve static files unhashed and keep uploads in a temporary folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cache.clear()  # no test sees another's cached category tree or facets
    thumbnails.forget()  # nor the thumbnails another's uploads had
    caches["ratelimit"].clear()  # nor another's login or lookup counts


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}
