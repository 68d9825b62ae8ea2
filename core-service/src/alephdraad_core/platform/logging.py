"""Logging setup shared by Django (LOGGING) and gunicorn (logconfig_dict): JSON lines only."""

from __future__ import annotations

import logging
from typing import Any

from alephdraad_contracts import logging_config

SERVICE_NAME = "core-service"

# Loggers that Django's DEFAULT_LOGGING gives plain-text console handlers. Emptying their
# handlers and letting them propagate sends every line through the one JSON handler on root.
_DJANGO_PLAIN_TEXT_LOGGERS = ("django", "django.server", "py.warnings")


class OnlyWithTraceback(logging.Filter):
    """Keeps django.request records that carry an exception, drops status-only ones.

    Django logs every 4xx/5xx response to django.request after the middleware chain has
    returned, so those lines have no request id and repeat the status our "request" line
    already has. Records with a traceback (an exception escaping a middleware) are the ones
    worth keeping; they are logged while the request id is still bound.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is not None


def _propagate_only(level: str | None = None) -> dict[str, Any]:
    logger: dict[str, Any] = {"handlers": [], "propagate": True}
    if level is not None:
        logger["level"] = level
    return logger


def json_logging_config(level: str) -> dict[str, Any]:
    """settings.LOGGING: contracts' JSON-to-stderr config, with Django's loggers routed to it."""
    config = logging_config(SERVICE_NAME, level)
    loggers = {name: _propagate_only() for name in _DJANGO_PLAIN_TEXT_LOGGERS}
    # 4xx answers are routine and already in the "request" line: only errors reach the log.
    loggers["django.request"] = {**_propagate_only("ERROR"), "filters": ["only_with_traceback"]}
    config["loggers"] = loggers
    config["filters"] = {
        "only_with_traceback": {"()": f"{OnlyWithTraceback.__module__}.OnlyWithTraceback"}
    }
    return config


def gunicorn_logging_config(level: str) -> dict[str, Any]:
    """gunicorn's logconfig_dict: the same JSON output for the master and worker processes.

    gunicorn merges this over its own defaults with a shallow dict.update, so its loggers
    must be redefined here: they name handlers ("console") that our "handlers" replace.
    """
    config = json_logging_config(level)
    config["loggers"]["gunicorn.error"] = _propagate_only()
    # gunicorn writes access lines whenever a logconfig_dict is set, whatever `accesslog` says;
    # the service logs requests itself (with the request id), so these would be duplicates.
    config["loggers"]["gunicorn.access"] = _propagate_only("WARNING")
    return config
