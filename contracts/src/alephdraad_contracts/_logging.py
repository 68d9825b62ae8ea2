"""The log shape both services write: one JSON object per line, carrying the request id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from ._request_id import current_request_id

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
# uvicorn adds `color_message` (the message again, with ANSI colours): never wanted in JSON.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}
)


def utc_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with millisecond precision and a `Z`."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonLogFormatter(logging.Formatter):
    """One JSON line per record: ts, level, logger, message, service, request_id, extras."""

    def __init__(self, service: str = "unknown") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping that sends everything as JSON lines to stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": f"{JsonLogFormatter.__module__}.{JsonLogFormatter.__qualname__}",
                "service": service,
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }
