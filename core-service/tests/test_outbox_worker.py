"""`manage.py run_worker` dispatches the outbox on every pass, after mail, and survives a
dispatch that fails."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from alephdraad_core.mail.management.commands import run_worker
from alephdraad_core.outbox.dispatcher import DispatchReport
from alephdraad_core.outbox.models import HandledEvent, OutboxEvent
from tests.conftest import JsonLogCapture
from tests.feature_stub import FeatureStub
from tests.outbox_support import accept_events, emit, received_ids

# The command closes stale connections (close_old_connections); a test transaction around it
# would break, so these tests commit for real (as test_mail_worker does).
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_pass_delivers_due_events_and_purges_old_ones(
    feature_stub: FeatureStub, tmp_path: Path
) -> None:
    accept_events(feature_stub)
    now = timezone.now()
    due = emit()
    old = emit(status=OutboxEvent.Status.DELIVERED, delivered_at=now - timedelta(days=8))
    HandledEvent.objects.create(
        id="evt_01JDZ8K4Q9V3R6T2M5N7P1X0YZ",
        type="reply.accepted",
        producer="feature-service",
        occurred_at=now - timedelta(days=31),
        handled_at=now - timedelta(days=31),
        known=False,
    )

    call_command("run_worker", "--once", "--ready-file", str(tmp_path / "r"), stdout=io.StringIO())

    assert received_ids(feature_stub) == [due.pk]
    assert OutboxEvent.objects.get(pk=due.pk).status == OutboxEvent.Status.DELIVERED
    # The first pass also ran housekeeping.
    assert not OutboxEvent.objects.filter(pk=old.pk).exists()
    assert not HandledEvent.objects.exists()


def test_a_worker_pass_with_the_feature_service_down_keeps_the_events(
    feature_stub: FeatureStub, json_log: JsonLogCapture
) -> None:
    event = emit()
    feature_stub.stop()

    call_command("run_worker", "--once", stdout=io.StringIO())

    row = OutboxEvent.objects.get(pk=event.pk)
    assert (row.status, row.attempts) == (OutboxEvent.Status.PENDING, 1)
    # Not a failed pass: an unreachable peer is an expected state the outbox absorbs.
    assert json_log.messages("worker pass failed") == []
    assert json_log.messages("feature service unreachable; dispatch pass stopped")


def test_a_failing_dispatch_is_logged_and_the_worker_carries_on(
    tmp_path: Path, json_log: JsonLogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(**_: object) -> DispatchReport:
        raise OperationalError("connection to server was lost")

    monkeypatch.setattr(run_worker, "dispatch_due", database_down)
    ready = tmp_path / "worker.ready"

    call_command("run_worker", "--once", "--ready-file", str(ready), stdout=io.StringIO())

    assert ready.is_file()
    [failure] = json_log.messages("worker pass failed")
    assert failure["level"] == "error"
    assert "OperationalError: connection to server was lost" in failure["exc"]
    assert json_log.messages("worker stopped")
