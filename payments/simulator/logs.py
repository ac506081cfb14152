"""The simulator's console lines, on the shop's clock.

The simulator is not a Django process and must not read the shop's
settings, so ``scripts/dev.py`` passes the shop's ``TIME_ZONE`` in the
environment and every line carries that zone's time with its offset, as
the shop's own lines do (``2026-12-02 21:04:51+0300 INFO ...``).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The shop's console line (storefront/settings.py LOGGING, "plain").
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S%z"


class ZonedFormatter(logging.Formatter):
    """Format times in one fixed zone, whatever the machine's local time."""

    def __init__(self, fmt: str = LOG_FORMAT, datefmt: str = DATE_FORMAT, zone: str = "") -> None:
        super().__init__(fmt, datefmt)
        self.zone = ZoneInfo(zone) if zone else None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = datetime.fromtimestamp(record.created, self.zone).astimezone(self.zone)
        return moment.strftime(datefmt or self.datefmt or DATE_FORMAT)


def configure(level: int = logging.INFO) -> None:
    """Log to stderr on the clock named by ``TIME_ZONE`` (local time without it)."""
    zone = os.environ.get("TIME_ZONE", "")
    try:
        formatter, unknown = ZonedFormatter(zone=zone), False
    except (ZoneInfoNotFoundError, ValueError):
        formatter, unknown = ZonedFormatter(), True
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if unknown:
        logging.getLogger(__name__).warning("Unknown TIME_ZONE %r: logging local time", zone)
