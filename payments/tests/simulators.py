"""Daraja simulators for tests: start one, point the shop's settings at it.

The fixtures (``start_sim``, ``simulator``, ``sim``, ``sim_with``,
``paying_shop``) serve the payments tests, the shop's checkout tests and the
Chromium journeys (``tests/journeys``): import them into a conftest or test
module to use them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from payments.simulator import SimulatorServer, start_simulator

# Deliberately not the settings.py defaults, so a test passes only if the
# client really reads its credentials from settings.
CREDENTIALS = {
    "consumer_key": "test-consumer-key",
    "consumer_secret": "test-consumer-secret",
    "passkey": "test-passkey-bfb279f9aa9bdbcf158e97dd71a467cd",
    "shortcode": "600123",
}
FAST = {"callback_delay": 0.1, "slow_seconds": 2.0, "callback_timeout": 2.0, "poll_interval": 0.01}


@dataclass
class RunningSimulator:
    """A simulator started for one test, with helpers to look inside it."""

    server: SimulatorServer
    base_url: str

    def snapshot(self) -> dict[str, Any]:
        """Return ``GET /simulator/transactions`` (tokens issued, pushes, callbacks)."""
        response = requests.get(f"{self.base_url}/simulator/transactions", timeout=5)
        response.raise_for_status()
        return response.json()

    def transactions(self) -> list[dict[str, Any]]:
        """Return every push the simulator accepted."""
        return self.snapshot()["transactions"]

    def tokens_issued(self) -> int:
        """Return how many OAuth tokens the simulator has issued."""
        return self.snapshot()["tokens_issued"]

    def token(self) -> str:
        """Fetch a token directly, as another app with the same keys would."""
        response = requests.get(
            f"{self.base_url}/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            auth=(CREDENTIALS["consumer_key"], CREDENTIALS["consumer_secret"]),
            timeout=5,
        )
        response.raise_for_status()
        return response.json()["access_token"]


@pytest.fixture
def start_sim() -> Iterator[Callable[..., RunningSimulator]]:
    """Return a function starting a simulator (test credentials, fast delays) per call."""
    started: list[SimulatorServer] = []

    def start(**overrides: Any) -> RunningSimulator:
        server, base_url = start_simulator(**{**CREDENTIALS, **FAST, **overrides})
        started.append(server)
        return RunningSimulator(server=server, base_url=base_url)

    yield start
    for server in started:
        server.stop()


def point_settings_at(settings, simulator: RunningSimulator) -> None:
    """Configure the shop's MPESA_* settings for *simulator*."""
    settings.MPESA_ENVIRONMENT = "simulator"
    settings.MPESA_BASE_URL = simulator.base_url
    settings.MPESA_CONSUMER_KEY = CREDENTIALS["consumer_key"]
    settings.MPESA_CONSUMER_SECRET = CREDENTIALS["consumer_secret"]
    settings.MPESA_PASSKEY = CREDENTIALS["passkey"]
    settings.MPESA_SHORTCODE = CREDENTIALS["shortcode"]
    settings.MPESA_PARTY_B = CREDENTIALS["shortcode"]
    settings.MPESA_TRANSACTION_TYPE = "CustomerPayBillOnline"
    settings.MPESA_TIMEOUT_SECONDS = 5


@pytest.fixture
def simulator(start_sim) -> RunningSimulator:
    """Start a simulator with the default (fast) behaviour."""
    return start_sim()


@pytest.fixture
def sim_with(settings, start_sim) -> Callable[..., RunningSimulator]:
    """Return a function starting a simulator with overrides and pointing settings at it."""

    def start(**overrides: Any) -> RunningSimulator:
        simulator = start_sim(**overrides)
        point_settings_at(settings, simulator)
        return simulator

    return start


@pytest.fixture
def sim(settings, simulator) -> RunningSimulator:
    """Point the shop's Daraja settings at a fresh simulator and return it."""
    point_settings_at(settings, simulator)
    return simulator


# The shop end to end: the live server receives the simulator's callbacks ----


@pytest.fixture
def paying_shop(settings, live_server, start_sim) -> Callable[..., RunningSimulator]:
    """Return a function starting a simulator that calls back the live shop.

    The shop's real Daraja client talks HTTP to the simulator, and the
    simulator POSTs its callbacks to the live server's callback URL, as
    Safaricom would.
    """

    def start(**overrides: Any) -> RunningSimulator:
        simulator = start_sim(**overrides)
        point_settings_at(settings, simulator)
        settings.MPESA_CALLBACK_BASE_URL = live_server.url
        return simulator

    return start


def wait_for(predicate: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.05):
    """Return predicate()'s first truthy value, failing after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(interval)
