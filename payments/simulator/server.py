"""Run the simulator's WSGI app on a threaded stdlib server, in a thread or in the foreground."""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import Simulator, SimulatorConfig, make_app

logger = logging.getLogger(__name__)


class QuietHandler(WSGIRequestHandler):
    """Log requests through ``logging`` instead of printing to stderr."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s - %s", self.address_string(), format % args)


class SimulatorServer(ThreadingMixIn, WSGIServer):
    """A threaded WSGI server that owns a ``Simulator`` and can stop cleanly."""

    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator
    thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a client that hung up (e.g. after its own timeout) without a traceback."""
        logger.debug("Connection from %s ended abruptly", client_address, exc_info=True)

    def stop(self) -> None:
        """Stop serving, cancel pending callbacks and release the port."""
        self.simulator.stop()
        if self.thread is not None:
            self.shutdown()
            self.thread.join(timeout=5)
        self.server_close()


def make_server(*, host: str, port: int, config: SimulatorConfig) -> SimulatorServer:
    """Bind a ``SimulatorServer`` for *config* on *host*:*port* (0 picks a free port)."""
    server = SimulatorServer((host, port), QuietHandler)
    server.simulator = Simulator(config)
    server.set_app(make_app(server.simulator))
    return server


def start_simulator(
    *, host: str = "127.0.0.1", port: int = 0, poll_interval: float = 0.05, **config: Any
) -> tuple[SimulatorServer, str]:
    """Start the simulator in a daemon thread and return ``(server, base_url)``.

    *config* takes any ``SimulatorConfig`` field (``callback_delay``,
    ``slow_seconds``, ``consumer_key``, ``consumer_secret``, ``passkey``,
    ``shortcode``, ``token_ttl``, ``invalidate_previous_tokens``,
    ``timestamp_tolerance``, ``callback_timeout``). *poll_interval* bounds how
    long ``server.stop()`` waits for the serving thread. Call ``server.stop()``
    when done.
    """
    server = make_server(host=host, port=port, config=SimulatorConfig(**config))
    server.thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": poll_interval},
        name=f"daraja-simulator-{server.server_port}",
        daemon=True,
    )
    server.thread.start()
    return server, f"http://{host}:{server.server_port}"
