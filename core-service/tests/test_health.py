"""Liveness needs nothing; readiness needs PostgreSQL and says so with a 503, never a 500."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.utils import ConnectionHandler
from django.test import Client

from alephdraad_core import __version__
from alephdraad_core.health import selectors
from tests.conftest import assert_problem


def test_healthz_reports_service_and_version_without_touching_the_database(
    client: Client,
) -> None:
    # No django_db mark: pytest-django refuses database access here, so any query would turn
    # this into a 500.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "service": "core-service", "version": __version__}


@pytest.mark.django_db
def test_readyz_is_ready_when_select_1_succeeds(
    client: Client, django_assert_num_queries: Any
) -> None:
    # SELECT 1, then the outbox backlog (tests/test_outbox_readiness.py).
    with django_assert_num_queries(2) as captured:
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok"},
        "outbox": {"pending": 0, "dead": 0, "oldest_pending_seconds": None},
    }
    assert captured.captured_queries[0]["sql"] == "SELECT 1"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that refuses connections (bound, never listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def unreachable_database(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> Iterator[None]:
    """Points the probe's connection at a closed port; the test database stays untouched."""
    unreachable = {
        **connection.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": closed_port,
        # The URL may put a unix-socket directory here, which would win over HOST.
        "OPTIONS": {
            key: value
            for key, value in connection.settings_dict["OPTIONS"].items()
            if key != "host"
        },
    }
    handler = ConnectionHandler({DEFAULT_DB_ALIAS: unreachable})
    monkeypatch.setattr(selectors, "connections", handler)
    yield
    handler.close_all()


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_database")
def test_readyz_answers_503_not_ready_when_the_database_is_unreachable(
    client: Client, json_log: Any, closed_port: int
) -> None:
    started = time.monotonic()
    response = client.get("/readyz", headers={"X-Request-ID": "probe-1"})
    elapsed = time.monotonic() - started

    body = assert_problem(response, 503, "NOT_READY")
    assert body["request_id"] == "probe-1"
    assert "database is unreachable" in body["detail"]
    assert elapsed < 5, "a refused connection must not wait for a timeout"
    warning, request = json_log.lines()
    assert (warning["message"], warning["level"]) == ("database unreachable", "warning")
    assert f"port {closed_port} failed" in warning["error"]
    assert (request["message"], request["status"]) == ("request", 503)
    assert warning["request_id"] == request["request_id"] == "probe-1"
