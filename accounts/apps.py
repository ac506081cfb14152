from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from allauth.core.internal import ratelimit
        from django.core.cache import caches
        from django.utils.connection import ConnectionProxy

        from . import signals  # noqa: F401

        # The login library counts in the default cache, which may evict and
        # fails open; the shop's counters have a cache of their own.
        ratelimit.cache = ConnectionProxy(caches, "ratelimit")
