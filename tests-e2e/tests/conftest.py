"""One stack per test session, started by the same launcher as `make run` (--ephemeral)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jsonschema
import psycopg
import pytest

from alephdraad_contracts import PROBLEM_CONTENT_TYPE, load_schema
from alephdraad_stack.paths import find_repo_root
from alephdraad_stack.stack import Stack

REPO_ROOT = find_repo_root(Path(__file__).resolve())
PROBLEM_SCHEMA = load_schema("problem")
# The password of every member the tests register.
PASSWORD = "correct horse battery staple"


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


def register_verified(
    gateway: httpx.Client, stack: Stack, username: str, full_name: str = "Member"
) -> str:
    """Register `username` (email `<username>@example.test`, password PASSWORD) and mark it
    verified in the database; return the email. The mail round trip itself is covered by
    test_identity_flow."""
    email = f"{username}@example.test"
    registered = gateway.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "username": username, "full_name": full_name},
    )
    assert registered.status_code == 201, registered.text
    with psycopg.connect(stack.info()["components"]["postgres"]["url"]) as conn:
        conn.execute("UPDATE users SET is_verified = true WHERE username = %s", (username,))
    return email


def log_in(gateway: httpx.Client, login: str) -> dict[str, Any]:
    """Password login with PASSWORD; the token response."""
    response = gateway.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, timeout: float = 45.0) -> T:
    """Poll `check` until it returns something other than None: events travel through an
    outbox whose worker runs every second, and a failed delivery backs off exponentially."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def gateway_from(stack: Stack, address: str) -> httpx.Client:
    """A client reaching the gateway from its own loopback address, so core's per-IP rate
    limits (register, login) count one test module apart from the others."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=stack.gateway_url, timeout=15, transport=transport)


def create_thread(gateway: httpx.Client, stack: Stack, auth: dict[str, str], title: str) -> int:
    """A thread in the first category (the migrations create a default one); its id."""
    with psycopg.connect(stack.info()["components"]["postgres"]["url"]) as conn:
        row = conn.execute("SELECT slug FROM categories ORDER BY id LIMIT 1").fetchone()
    assert row is not None
    created = gateway.post(
        "/api/v1/threads",
        json={
            "category_slug": row[0],
            "title": title,
            "summary": "",
            "content_json": {
                "type": "doc",
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": title}]}],
            },
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    thread_id: int = created.json()["id"]
    return thread_id
