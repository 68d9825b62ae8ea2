"""`manage.py outbox status|dispatch|retry`: what an operator sees and does."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from alephdraad_core.outbox.models import OutboxEvent
from tests.feature_stub import FeatureStub
from tests.outbox_support import accept_events, emit, emit_at_seconds_ago, received_ids

pytestmark = pytest.mark.django_db

PENDING, DELIVERED, DEAD = (
    OutboxEvent.Status.PENDING,
    OutboxEvent.Status.DELIVERED,
    OutboxEvent.Status.DEAD,
)


def _outbox(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("outbox", *args, stdout=out)
    return out.getvalue().splitlines()


def _statuses() -> dict[str, str]:
    return dict(OutboxEvent.objects.values_list("id", "status"))


# --- status -------------------------------------------------------------------------------------


def _backlog() -> None:
    now = timezone.now()
    emit(now=now - timedelta(seconds=120))  # pending, due, the oldest
    emit(now=now - timedelta(seconds=30), next_attempt_at=now + timedelta(minutes=5))
    emit(status=DEAD, last_error="HTTP 422: …")
    emit(now=now - timedelta(days=2), status=DELIVERED, delivered_at=now)


def test_status_shows_pending_due_dead_and_the_oldest_age() -> None:
    _backlog()

    lines = _outbox("status")

    assert lines[:2] == ["pending: 2 (due now: 1)", "dead: 1"]
    assert lines[2].startswith("oldest pending: 12")
    assert lines[2].endswith(" s")
    assert 120 <= float(lines[2].split()[2]) < 130


def test_status_json_is_one_object_for_machines() -> None:
    _backlog()

    [line] = _outbox("status", "--json")

    status = json.loads(line)
    assert {key: status[key] for key in ("pending", "due", "dead")} == {
        "pending": 2,
        "due": 1,
        "dead": 1,
    }
    assert 120 <= status["oldest_pending_seconds"] < 130


def test_status_of_an_empty_outbox() -> None:
    assert json.loads(_outbox("status", "--json")[0]) == {
        "pending": 0,
        "due": 0,
        "dead": 0,
        "oldest_pending_seconds": None,
    }
    assert _outbox("status") == ["pending: 0 (due now: 0)", "dead: 0", "oldest pending: -"]


# --- dispatch -----------------------------------------------------------------------------------


def test_dispatch_runs_one_pass_and_prints_its_report(
    feature_stub: FeatureStub, settings: Any
) -> None:
    accept_events(feature_stub)
    settings.OUTBOX_BATCH_SIZE = 2
    first, second, third = emit_at_seconds_ago(3, 2, 1)

    assert _outbox("dispatch") == ["pass 1: claimed 2, delivered 2, retried 0, dead 0"]

    assert _statuses() == {first.pk: DELIVERED, second.pk: DELIVERED, third.pk: PENDING}


def test_dispatch_until_empty_repeats_passes_until_nothing_is_due(
    feature_stub: FeatureStub, settings: Any
) -> None:
    accept_events(feature_stub)
    settings.OUTBOX_BATCH_SIZE = 2
    events = emit_at_seconds_ago(5, 4, 3, 2, 1)

    assert _outbox("dispatch", "--until-empty") == [
        "pass 1: claimed 2, delivered 2, retried 0, dead 0",
        "pass 2: claimed 2, delivered 2, retried 0, dead 0",
        # Fewer than a batch: nothing else was due, so no fourth pass.
        "pass 3: claimed 1, delivered 1, retried 0, dead 0",
    ]
    assert received_ids(feature_stub) == [event.pk for event in events]
    assert set(_statuses().values()) == {DELIVERED}


def test_dispatch_until_empty_stops_when_a_pass_makes_no_progress(
    feature_stub: FeatureStub, settings: Any
) -> None:
    feature_stub.respond("POST", "/internal/v1/events", 503, {"code": "NOT_READY"})
    settings.OUTBOX_BATCH_SIZE = 2
    emit_at_seconds_ago(3, 2, 1)

    assert _outbox("dispatch", "--until-empty") == [
        "pass 1: claimed 2, delivered 0, retried 2, dead 0"
    ]
    assert sorted(OutboxEvent.objects.values_list("attempts", flat=True)) == [0, 1, 1]


def test_dispatch_with_the_feature_service_down_fails_and_keeps_the_events(
    feature_stub: FeatureStub,
) -> None:
    first, second = emit_at_seconds_ago(2, 1)
    feature_stub.stop()
    out = io.StringIO()

    with pytest.raises(CommandError, match="feature service is unreachable"):
        call_command("outbox", "dispatch", "--until-empty", stdout=out)

    assert out.getvalue() == "pass 1: claimed 2, delivered 0, retried 1, dead 0, stopped early\n"
    assert _statuses() == {first.pk: PENDING, second.pk: PENDING}
    assert OutboxEvent.objects.get(pk=first.pk).attempts == 1


# --- retry --------------------------------------------------------------------------------------


def test_retry_puts_the_given_dead_events_back_to_pending_due_now() -> None:
    later = timezone.now() + timedelta(hours=1)
    dead = emit(status=DEAD, attempts=3, last_error="HTTP 422: bad", next_attempt_at=later)
    other_dead = emit(status=DEAD, attempts=1, last_error="HTTP 400: x")
    before = timezone.now()

    assert _outbox("retry", dead.pk) == [
        f"retrying {dead.pk}",
        "1 dead event(s) put back to pending",
    ]

    row = OutboxEvent.objects.get(pk=dead.pk)
    assert (row.status, row.attempts) == (PENDING, 0)
    assert before <= row.next_attempt_at <= timezone.now()
    # Kept, so the operator can still see why it died.
    assert row.last_error == "HTTP 422: bad"
    assert OutboxEvent.objects.get(pk=other_dead.pk).status == DEAD


def test_retry_dead_retries_every_dead_event_and_nothing_else() -> None:
    first, second = emit(status=DEAD), emit(status=DEAD)
    pending = emit(next_attempt_at=timezone.now() + timedelta(minutes=5), attempts=4)
    delivered = emit(status=DELIVERED, delivered_at=timezone.now())

    lines = _outbox("retry", "--dead")

    assert lines == [
        *(f"retrying {pk}" for pk in sorted([first.pk, second.pk])),
        "2 dead event(s) put back to pending",
    ]
    assert _statuses() == {
        first.pk: PENDING,
        second.pk: PENDING,
        pending.pk: PENDING,
        delivered.pk: DELIVERED,
    }
    assert OutboxEvent.objects.get(pk=pending.pk).attempts == 4


def test_retry_of_ids_that_are_not_dead_says_so_and_fails() -> None:
    dead = emit(status=DEAD)
    delivered = emit(status=DELIVERED, delivered_at=timezone.now())
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("outbox", "retry", dead.pk, delivered.pk, "evt_missing", stdout=out)

    assert str(failed.value) == (
        f"not dead, so not retried: {delivered.pk} (delivered), evt_missing (no such event)"
    )
    # The dead one was still retried; the delivered one is left alone.
    assert out.getvalue().splitlines() == [
        f"retrying {dead.pk}",
        "1 dead event(s) put back to pending",
    ]
    assert _statuses() == {dead.pk: PENDING, delivered.pk: DELIVERED}


@pytest.mark.parametrize("args", [("retry",), ("retry", "--dead", "evt_x")])
def test_retry_needs_either_ids_or_dead(args: tuple[str, ...]) -> None:
    dead = emit(status=DEAD)

    with pytest.raises(CommandError, match="give event ids or --dead"):
        call_command("outbox", *args, stdout=io.StringIO())

    assert _statuses() == {dead.pk: DEAD}
