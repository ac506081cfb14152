"""Gunicorn's settings for the shop's ``web`` process (Procfile: ``-c gunicorn.conf.py``).

Read from the environment like the shop's own settings:

- ``PORT`` (8000) and ``WEB_CONCURRENCY`` (2 workers) as before;
- the access log goes to stdout, one line per request with the time the
  request took (``%(M)s`` ms) and the client's address: the first hop of
  ``X-Forwarded-For`` not written by one of ``TRUSTED_PROXIES`` (addresses
  or CIDR ranges, the shop's own setting), read from the right and only
  when the request came from such a proxy, by the same rule as
  ``storefront.web.client_ip`` (``storefront/addresses.py``); otherwise the
  socket's address. With ``LOG_FORMAT=json`` every line,
  access log included, is one JSON object (``storefront/logging.py``);
- with ``PROMETHEUS_MULTIPROC_DIR`` set, the workers share their request
  metrics through files in that folder (prometheus_client's multiprocess
  mode): it is emptied when gunicorn starts, and a worker's files are
  marked dead when it exits.

This file is read by the gunicorn master, before Django is set up: it
imports nothing of Django.
"""

import os
from pathlib import Path

from gunicorn.glogging import Logger

from storefront.addresses import client_from, trusted_networks

bind = f"0.0.0.0:{os.environ.get('PORT') or '8000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or "2")
accesslog = "-"
errorlog = "-"
access_log_format = (
    '%(client)s - %(u)s [%(t)s] "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" %({x-request-id}o)s'
)
# X-Forwarded-Proto is believed from the same proxies (for wsgi.url_scheme).
_PROXIES = [p.strip() for p in (os.environ.get("TRUSTED_PROXIES") or "").split(",") if p.strip()]
forwarded_allow_ips = ",".join(_PROXIES) or "127.0.0.1,::1"


try:
    _TRUSTED = trusted_networks(_PROXIES)
except ValueError:
    _TRUSTED = ()  # the shop's settings refuse it with a message at start-up


def client_address(remote_addr: str, forwarded_for: str) -> str:
    """Return the client of a request as the access log shows it (see the module)."""
    return client_from(remote_addr, forwarded_for, _TRUSTED) or "-"


class AccessLogger(Logger):
    """Gunicorn's logger with one more atom: ``%(client)s``."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["client"] = client_address(
            environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR", "")
        )
        return atoms


logger_class = AccessLogger

if (os.environ.get("LOG_FORMAT") or "").strip().lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "storefront.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


def on_starting(server):
    """Empty the multiprocess metrics folder: files of a previous run would be counted."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    """Let the metrics of a worker that exited stop counting as live."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
