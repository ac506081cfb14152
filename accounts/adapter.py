"""The login library's hooks: the shop's client address and lock-out rule.

django-allauth counts failed logins per client address and per account.
Its address comes from ``storefront.web.client_ip`` (the trusted proxies'
X-Forwarded-For), never its own guess: behind a proxy every shopper would
otherwise share one bucket, and on a unix socket it would refuse every
login. Its per-account count is kept per account *and* client, so a
stranger's wrong passwords lock only the stranger out, not the shopper.
"""

import logging

from allauth.account.adapter import DefaultAccountAdapter

from storefront.web import client_ip

logger = logging.getLogger(__name__)

#: Stands in for an address that can't be told (a unix socket with no proxy header).
UNKNOWN_CLIENT = "0.0.0.0"


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        address = client_ip(request)
        if address is None:
            logger.warning(
                "No client address for %s (no REMOTE_ADDR or X-Forwarded-For): "
                "counting it with every other such request",
                request.path,
            )
            return UNKNOWN_CLIENT
        return address

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}|{self.get_client_ip(request)}"
