from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from allauth.core.internal import ratelimit
        from django.contrib.auth.signals import user_logged_in
        from django.core.cache import caches
        from django.utils.connection import ConnectionProxy

        from storefront import i18n

        from . import signals  # noqa: F401

        # Signing in brings the account's language to this browser.
        user_logged_in.connect(i18n.use_saved_language, dispatch_uid="shop-language-on-login")

        # The login library counts in the default cache, which may evict and
        # fails open; the shop's counters have a cache of their own.
        ratelimit.cache = ConnectionProxy(caches, "ratelimit")
