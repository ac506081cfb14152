"""A small per-process store of recent values, each kept until a given time.

For what a process may keep of shared state between requests: copies it
checks against the shared cache before use, or values that cannot change
under a name (a thumbnail of a file).
"""

import threading
import time
from collections import OrderedDict
from typing import Any


class ExpiringLRU:
    """At most *size* values, the least recently used dropped first, each until its time."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return default
            if found[0] <= time.time():
                del self._entries[key]
                return default
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key, value, until: float) -> None:
        with self._lock:
            self._entries[key] = (until, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
