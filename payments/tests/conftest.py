"""Fixtures: a real Daraja simulator and a callback receiver, both over real HTTP.

The simulator fixtures live in ``simulators.py``, shared with the shop's
tests and the Chromium journeys.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache, caches

from .simulators import (  # noqa: F401 - the simulator fixtures of this package's tests
    paying_shop,
    sim,
    sim_with,
    simulator,
    start_sim,
)


class CallbackReceiver:
    """A tiny HTTP server in a thread that records the callbacks POSTed to it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._condition:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
                    )
                    receiver._condition.notify_all()
                payload = b'{"ResultCode": 0, "ResultDesc": "Accepted"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        """Return the callback URL to give Daraja."""
        return f"http://127.0.0.1:{self.server.server_port}/pay/stk/cb/test-token/"

    def wait_for(self, count: int, *, timeout: float = 3.0) -> list[dict[str, Any]]:
        """Wait until *count* callbacks arrived (or *timeout*); return all received."""
        with self._condition:
            self._condition.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _locmem_cache(settings) -> Iterator[None]:
    """Give every payments test an empty, private in-memory cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "payments-tests",
        },
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "payments-tests-ratelimit",
        },
    }
    cache.clear()
    caches["ratelimit"].clear()
    yield
    cache.clear()
    caches["ratelimit"].clear()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    """Run a callback receiver for the test."""
    receiver = CallbackReceiver()
    yield receiver
    receiver.stop()
