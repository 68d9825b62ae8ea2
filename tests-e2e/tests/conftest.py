"""One stack per test session, started by the same launcher as `make run` (--ephemeral)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from alephdraad_contracts import PROBLEM_CONTENT_TYPE, load_schema
from alephdraad_stack.paths import find_repo_root
from alephdraad_stack.stack import Stack

REPO_ROOT = find_repo_root(Path(__file__).resolve())
PROBLEM_SCHEMA = load_schema("problem")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Servers follow the suite-wide order: URL variable, then a container when a Docker
    # engine answers, then the embedded server (alephdraad_stack.servers).
    running = Stack.ephemeral(REPO_ROOT)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """A web client's view: every request goes through the gateway."""
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """The response is an RFC 9457 problem with this status and code, carrying its request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    body: dict[str, object] = response.json()
    jsonschema.validate(body, PROBLEM_SCHEMA)
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body
