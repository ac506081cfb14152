"""Run the Daraja simulator: ``python -m payments.simulator --host 127.0.0.1 --port 8001``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from . import logs, outcome_table
from .app import SimulatorConfig
from .server import make_server

logger = logging.getLogger("payments.simulator")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; credentials default to the shop's MPESA_* variables."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m payments.simulator",
        description="A local stand-in for Safaricom Daraja's STK Push API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--callback-delay",
        type=float,
        default=defaults.callback_delay,
        help="seconds before the customer 'acts' and the callback is sent",
    )
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=defaults.slow_seconds,
        help="how long the …0999 outcome keeps the push waiting",
    )
    parser.add_argument("--token-ttl", type=int, default=defaults.token_ttl)
    parser.add_argument(
        "--timestamp-tolerance",
        type=float,
        default=None,
        help="refuse Timestamps further than this from Nairobi time (seconds)",
    )
    parser.add_argument(
        "--consumer-key", default=os.environ.get("MPESA_CONSUMER_KEY") or defaults.consumer_key
    )
    parser.add_argument(
        "--consumer-secret",
        default=os.environ.get("MPESA_CONSUMER_SECRET") or defaults.consumer_secret,
    )
    parser.add_argument("--passkey", default=os.environ.get("MPESA_PASSKEY") or defaults.passkey)
    parser.add_argument(
        "--shortcode", default=os.environ.get("MPESA_SHORTCODE") or defaults.shortcode
    )
    parser.add_argument(
        "--till-number",
        dest="till_numbers",
        action="append",
        help="a till number CustomerBuyGoodsOnline pushes may pay (repeat for "
        "more); default: MPESA_PARTY_B when MPESA_TRANSACTION_TYPE is "
        f"CustomerBuyGoodsOnline, else {', '.join(sorted(defaults.till_numbers))}",
    )
    args = parser.parse_args(argv)
    if not args.till_numbers:
        shop_till = os.environ.get("MPESA_PARTY_B", "")
        if os.environ.get("MPESA_TRANSACTION_TYPE") == "CustomerBuyGoodsOnline" and shop_till:
            args.till_numbers = [shop_till]
        else:
            args.till_numbers = sorted(defaults.till_numbers)
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve the simulator in the foreground until interrupted."""
    args = parse_args(argv)
    logs.configure()
    config = SimulatorConfig(
        consumer_key=args.consumer_key,
        consumer_secret=args.consumer_secret,
        passkey=args.passkey,
        shortcode=args.shortcode,
        till_numbers=frozenset(args.till_numbers),
        callback_delay=args.callback_delay,
        slow_seconds=args.slow_seconds,
        token_ttl=args.token_ttl,
        timestamp_tolerance=args.timestamp_tolerance,
    )
    server = make_server(host=args.host, port=args.port, config=config)
    logger.info(
        "Daraja simulator on http://%s:%s (shortcode %s, till %s, callback delay %ss); "
        "outcomes by payer number:\n%s",
        args.host,
        server.server_port,
        config.shortcode,
        ", ".join(sorted(config.till_numbers)),
        config.callback_delay,
        outcome_table(),
    )

    def request_stop(signum: int, frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.simulator.stop()
        server.server_close()
        logger.info("Daraja simulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
