"""Counting hits per client for the shop's own limits (guest order look-up, staff login).

Counters live in the ``ratelimit`` cache: Redis shared by every instance
(a Redis or database that never evicts, see ``RATELIMIT_REDIS_URL``), with
a per-process count while Redis is away (``storefront/cache.py``). Windows
are fixed: ``limit`` hits per ``seconds`` from the first hit. The login
library's own limits (shopper login, sign-up, password reset) use the same
cache and the same client address (``accounts/adapter.py``).
"""

import hashlib

from django.core.cache import caches


def _key(action: str, key: str) -> str:
    return f"rl:{action}:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def hit(action: str, key: str, *, limit: int, seconds: int) -> bool:
    """Count one hit of *action* by *key*; return whether it is within *limit*."""
    counters = caches["ratelimit"]
    name = _key(action, key)
    counters.add(name, 0, seconds)
    try:
        return counters.incr(name) <= limit
    except ValueError:  # expired between add and incr: a new window
        counters.set(name, 1, seconds)
        return True


def reached(action: str, key: str, *, limit: int) -> bool:
    """Return whether *key* has used up *limit* hits of *action* (counts nothing)."""
    return (caches["ratelimit"].get(_key(action, key)) or 0) >= limit


def clear(action: str, key: str) -> None:
    """Forget the hits of *action* by *key*."""
    caches["ratelimit"].delete(_key(action, key))
