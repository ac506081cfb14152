"""A Redis cache the shop keeps running without.

Django's Redis cache raises when Redis is unreachable, and every page that
touches the cache (all of the storefront) would answer 500. This backend
catches Redis errors, logs the outage once, and for ``RETRY_SECONDS`` does not
try Redis again (so requests don't each wait for a connect timeout), then
tries once more. While Redis is away it behaves as its ``FALLBACK`` says:

- ``"none"`` (the default cache: catalogue pages, the Daraja token, facets):
  fail open. Reads miss, writes are dropped, ``add`` succeeds (so a lock
  taken through the cache never blocks), ``incr`` raises ValueError as for a
  missing key. Pages render afresh; nothing stale is served.
- ``"local"`` (rate-limit counters): a per-process memory cache of the same
  keys, so a limit still counts (per process) instead of letting everything
  through.

``status()`` tells health checks which caches are down and since when;
``ping(alias)`` asks Redis itself.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: The Redis errors that mean "Redis is not there" rather than a bug of ours.
UNREACHABLE = (RedisError, OSError)


@dataclass
class _Health:
    down_since: float | None = None
    retry_at: float = 0.0


_health: dict[str, _Health] = {}
_health_lock = threading.Lock()


def status() -> dict[str, float | None]:
    """Return, per Redis location this process uses, when it went down (or None)."""
    return {location: state.down_since for location, state in _health.items()}


def ping(alias: str = "default") -> bool:
    """Return whether cache *alias* answers now (Redis asked directly, no fallback)."""
    backend = caches[alias]
    if not isinstance(backend, RedisCache):
        return True
    try:
        return bool(backend._cache.get_client().ping())
    except UNREACHABLE:
        return False


class _ReusedClients(RedisCacheClient):
    """Django's Redis cache client, keeping one ``redis.Redis`` per connection pool.

    Django makes a new ``redis.Redis`` for every cache call, and each builds
    its table of about eighty response parsers: about a twentieth of a
    cached page's time. A ``redis.Redis`` is safe to share between threads
    (each command takes a connection from the pool), so one per pool is kept.
    """

    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class ResilientRedisCache(RedisCache):
    """Django's RedisCache that degrades instead of failing when Redis is away."""

    RETRY_SECONDS = 5.0

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        self._fallback_kind = options.pop("FALLBACK", "none")
        if self._fallback_kind not in ("none", "local"):
            raise ValueError(f"FALLBACK must be 'none' or 'local', not {self._fallback_kind!r}")
        self._retry_seconds = float(options.pop("RETRY_SECONDS", self.RETRY_SECONDS))
        # Fail fast: a Redis that doesn't answer in half a second is treated as down.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 0.5)
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _ReusedClients
        self._location = server if isinstance(server, str) else ",".join(server)
        with _health_lock:
            self._health = _health.setdefault(self._location, _Health())
        self._local = None
        if self._fallback_kind == "local":
            # LocMemCache keeps its data per name in the process: every
            # thread's instance of this cache shares one fallback store.
            self._local = LocMemCache(
                f"fallback:{self._location}",
                {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 10000}},
            )
            self._local.key_prefix = self.key_prefix

    # Outage bookkeeping ---------------------------------------------------

    def _available(self) -> bool:
        return self._health.down_since is None or time.monotonic() >= self._health.retry_at

    def _went_down(self, operation: str, error: Exception) -> None:
        health = self._health
        first = health.down_since is None
        if first:
            health.down_since = time.time()
        health.retry_at = time.monotonic() + self._retry_seconds
        if first:
            logger.warning(
                "Redis at %s is unreachable (%s during %s: %s); the shop carries on %s "
                "and tries again every %ss",
                self._location,
                type(error).__name__,
                operation,
                error,
                "with per-process counts" if self._local else "without this cache",
                self._retry_seconds,
            )

    def _came_back(self) -> None:
        health = self._health
        if health.down_since is not None:
            logger.warning(
                "Redis at %s answers again after %.0f s",
                self._location,
                time.time() - health.down_since,
            )
            health.down_since = None

    def _guarded(self, operation: str, fallback, *args, **kwargs):
        if self._available():
            try:
                result = getattr(super(), operation)(*args, **kwargs)
            except UNREACHABLE as error:
                self._went_down(operation, error)
            else:
                self._came_back()
                return result
        if self._local is not None:
            return getattr(self._local, operation)(*args, **kwargs)
        if isinstance(fallback, type) and issubclass(fallback, Exception):
            raise fallback(f"cache unavailable during {operation}")
        return fallback(*args, **kwargs) if callable(fallback) else fallback

    # The cache API, each with what it means when Redis is away ---------------

    def get(self, key, default=None, version=None):
        return self._guarded("get", lambda *a, **k: default, key, default, version)

    def get_many(self, keys, version=None):
        return self._guarded("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._guarded("has_key", False, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("set", None, key, value, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # True: a lock taken with add() must not block when there is no cache.
        return self._guarded("add", True, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("set_many", [], data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._guarded("delete", False, key, version)

    def delete_many(self, keys, version=None):
        return self._guarded("delete_many", None, keys, version)

    def incr(self, key, delta=1, version=None):
        return self._guarded("incr", ValueError, key, delta, version)

    def decr(self, key, delta=1, version=None):
        return self._guarded("decr", ValueError, key, delta, version)

    def clear(self):
        return self._guarded("clear", None)
