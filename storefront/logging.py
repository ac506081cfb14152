"""One JSON object per log line (``LOG_FORMAT=json``), for log collectors.

Written here rather than taken from python-json-logger: the whole job is
one ``json.dumps`` of a handful of fields, and this module must stay free
of Django and third-party imports, since gunicorn's master (which is not a
Django process) loads it for its own logs through ``gunicorn.conf.py``.

Each line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``,
``logger`` and ``message``; then ``request_id`` when the line was logged
while a request was served (``storefront.observability`` sets it), ``exc_info``
(the formatted traceback) when there is one, any ``extra={...}`` fields, and
for gunicorn's access log its fields by name (client, method, path, status,
bytes, duration_ms).
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

#: The id of the request being served in this thread or task, if any.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

#: Attributes every LogRecord has: anything else was passed with ``extra``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime"}
)

#: gunicorn's access log atoms worth a field of their own.
_ACCESS_FIELDS = {
    "client": "client",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            for atom, field in _ACCESS_FIELDS.items():
                if atom in atoms:
                    line[field] = atoms[atom]
            rid = atoms.get("{x-request-id}o")
            if rid and rid != "-":
                line["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = value
        return json.dumps(line, default=str, ensure_ascii=False)
