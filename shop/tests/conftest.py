"""Fixtures of the shop's tests: a real Daraja simulator over HTTP (``sim``)."""

from payments.tests.simulators import (  # noqa: F401 - the simulator fixtures
    sim,
    simulator,
    start_sim,
)
