"""Logs are JSON lines from the contracts formatter: one "request" line per request."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("tests.urls")


def test_a_request_writes_one_json_line_with_its_outcome(client: Client, json_log: Any) -> None:
    response = client.get("/healthz?token=secret", headers={"X-Request-ID": "log-1"})

    assert response.status_code == 200
    [line] = json_log.messages("request")
    assert line["service"] == "core-service"
    assert line["logger"] == "alephdraad_core.request"
    assert line["level"] == "info"
    assert line["request_id"] == "log-1"
    assert line["method"] == "GET"
    # The query string is left out: it can carry tokens.
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["ts"].endswith("Z")


def test_error_responses_are_logged_once_with_their_status(client: Client, json_log: Any) -> None:
    client.post("/healthz", data={}, content_type="application/json")

    lines = json_log.lines()
    assert [(line["message"], line["status"]) for line in lines] == [("request", 405)]


@pytest.mark.parametrize("route", ["/test/raise/runtime", "/test/plain-raise/runtime"])
def test_a_500_is_logged_once_with_traceback_and_once_as_a_request(
    client: Client, json_log: Any, route: str
) -> None:
    client.get(route, headers={"X-Request-ID": "log-500"})

    lines = json_log.lines()
    assert [line["message"] for line in lines] == ["unhandled exception", "request"]
    assert all(line["request_id"] == "log-500" for line in lines)


def test_log_lines_outside_a_request_have_a_null_request_id(json_log: Any) -> None:
    logging.getLogger("alephdraad_core.test").warning("background", extra={"job": "outbox"})

    [line] = json_log.messages("background")
    assert line["request_id"] is None
    assert line["job"] == "outbox"


def test_django_loggers_have_no_plain_text_handlers() -> None:
    # Django's DEFAULT_LOGGING attaches console handlers to these; our LOGGING removes them
    # so everything goes through the JSON handler on the root logger.
    for name in ("django", "django.request", "django.server", "py.warnings"):
        named = logging.getLogger(name)
        assert named.handlers == [], name
        assert named.propagate, name
