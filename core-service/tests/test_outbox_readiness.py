"""/readyz reports the outbox backlog and stays ready whatever it is: a backlog means the
feature service is behind, not that core cannot serve."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.utils import timezone

from alephdraad_core.health import selectors
from alephdraad_core.openapi import build_openapi_schema
from alephdraad_core.outbox.models import OutboxEvent
from tests.conftest import JsonLogCapture
from tests.outbox_support import emit

pytestmark = pytest.mark.django_db


def _ready(client: Client) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert (body["status"], body["checks"]) == ("ready", {"database": "ok"})
    return body


def test_a_backlog_is_reported_and_the_service_stays_ready(client: Client) -> None:
    now = timezone.now()
    emit(now=now - timedelta(seconds=90), attempts=12, last_error="ConnectError: refused")
    emit(now=now - timedelta(seconds=5))
    emit(status=OutboxEvent.Status.DEAD, last_error="HTTP 422: …")
    emit(now=now - timedelta(days=3), status=OutboxEvent.Status.DELIVERED, delivered_at=now)

    outbox = _ready(client)["outbox"]

    assert (outbox["pending"], outbox["dead"]) == (2, 1)
    # From the oldest pending event's occurred_at, not the newest nor a delivered one.
    assert 90 <= outbox["oldest_pending_seconds"] < 100


def test_readyz_runs_one_query_for_the_backlog_served_by_the_partial_indexes(
    client: Client, django_assert_num_queries: Any
) -> None:
    emit()
    with django_assert_num_queries(2) as captured:
        _ready(client)
    backlog_sql = captured.captured_queries[1]["sql"]

    # With sequential scans priced out, the plan shows which indexes can answer the query: the
    # partial ones of pending and dead events, so the probe never reads the delivered bulk.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {backlog_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "idx_event_outbox_due" in plan
    assert "idx_event_outbox_dead" in plan
    assert "Seq Scan" not in plan


def test_an_unreadable_outbox_is_null_and_the_service_stays_ready(
    client: Client, monkeypatch: pytest.MonkeyPatch, json_log: JsonLogCapture
) -> None:
    def missing_table(**_: Any) -> None:
        raise DatabaseError('relation "event_outbox" does not exist')

    monkeypatch.setattr(selectors, "outbox_backlog", missing_table)

    assert _ready(client)["outbox"] is None
    [warning] = json_log.messages("outbox backlog unreadable")
    assert warning["level"] == "warning"
    assert "event_outbox" in warning["error"]


def test_the_openapi_document_describes_the_outbox_detail(client: Client) -> None:
    schemas = build_openapi_schema()["components"]["schemas"]
    body = _ready(client)

    readiness = schemas["Readiness"]
    assert set(readiness["required"]) == set(body) == {"status", "checks", "outbox"}
    outbox = readiness["properties"]["outbox"]
    assert outbox["allOf"] == [{"$ref": "#/components/schemas/OutboxBacklog"}]
    assert outbox["nullable"] is True
    backlog = schemas["OutboxBacklog"]
    assert set(backlog["required"]) == set(body["outbox"])
    assert backlog["properties"]["oldest_pending_seconds"]["nullable"] is True
    assert {backlog["properties"][name]["type"] for name in ("pending", "dead")} == {"integer"}
