"""Shared fixtures. The environment itself is prepared by tests/env_defaults.py."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from django.http import HttpResponseBase

from alephdraad_contracts import PROBLEM_CONTENT_TYPE, JsonLogFormatter, load_schema
from tests.feature_stub import feature_stub  # noqa: F401 - a fixture for every test module

PROBLEM_VALIDATOR = jsonschema.Draft202012Validator(load_schema("problem"))


def assert_problem(response: HttpResponseBase, status: int, code: str) -> dict[str, Any]:
    """Assert `response` is a schema-valid problem+json with this status and code; return it."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = json.loads(response.getvalue())  # streaming responses too
    PROBLEM_VALIDATOR.validate(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == response["X-Request-ID"]
    return body


# How a refused body is answered (platform/problems.py), as (status, code) for assert_problem:
# a request of the wrong shape (missing, unknown, null, wrong type, unparsable as its kind), a
# well-formed request whose values break a rule (RULE_ERROR_CODES: blank, too long or short,
# out of range, not a choice), and a body over DATA_UPLOAD_MAX_MEMORY_SIZE, refused unparsed.
BAD_SHAPE = (400, "VALIDATION_FAILED")
BROKEN_RULE = (422, "UNPROCESSABLE_CONTENT")
TOO_LARGE = (413, "PAYLOAD_TOO_LARGE")


def error_fields(body: dict[str, Any]) -> set[str]:
    """The fields a problem's errors[] names; none for a problem without errors[] (a 413)."""
    return {error["field"] for error in body.get("errors", [])}


def assert_too_large(response: HttpResponseBase) -> dict[str, Any]:
    """A 413 for a body over the 256 KiB limit: refused before parsing, so no field errors."""
    body = assert_problem(response, *TOO_LARGE)
    assert body["detail"] == "The request body exceeds 262144 bytes."
    assert "errors" not in body
    return body


class JsonLogCapture:
    """What the service's real JSON handler wrote, one parsed object per line."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines()]

    def messages(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["message"] == message]


@pytest.fixture
def json_log() -> Iterator[JsonLogCapture]:
    """Redirects the root logger's JSON handler (configured from settings.LOGGING) to memory.

    Swapping the stream, not the handler, keeps the real formatter and the real filtering, and
    asserting on the parsed lines proves each one is valid JSON.
    """
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler)
        and isinstance(handler.formatter, JsonLogFormatter)
    ]
    assert len(handlers) == 1, "settings.LOGGING should install exactly one JSON handler"
    handler = handlers[0]
    stream = io.StringIO()
    previous = handler.stream
    handler.setStream(stream)
    try:
        yield JsonLogCapture(stream)
    finally:
        handler.setStream(previous)
