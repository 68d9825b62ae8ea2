"""outbox/dispatcher.py: due events reach the feature service (a real signed HTTP call to the
stub), each answer is classified, failures back off, a peer that is down stops the pass."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from alephdraad_core.outbox import dispatcher
from alephdraad_core.outbox.dispatcher import (
    DeliveryOutcome,
    DispatchReport,
    Verdict,
    backoff,
    deliver,
    dispatch_due,
)
from alephdraad_core.outbox.models import OutboxEvent
from tests.conftest import JsonLogCapture
from tests.feature_stub import FeatureStub, ReceivedRequest
from tests.outbox_support import EVENTS, accept_events, emit, emit_at_seconds_ago, received_ids

pytestmark = pytest.mark.django_db

PENDING, DELIVERED, DEAD = (
    OutboxEvent.Status.PENDING,
    OutboxEvent.Status.DELIVERED,
    OutboxEvent.Status.DEAD,
)


def _row(event: OutboxEvent) -> OutboxEvent:
    return OutboxEvent.objects.get(pk=event.pk)


# --- deliver(): one call, one classification ----------------------------------------------------


@pytest.mark.parametrize("status", [200, 202, 204])
def test_a_2xx_is_delivered(feature_stub: FeatureStub, status: int) -> None:
    feature_stub.respond("POST", EVENTS, status, None if status == 204 else {"status": "handled"})
    envelope = emit().envelope

    outcome = deliver(envelope)

    assert outcome == DeliveryOutcome(Verdict.DELIVERED, status=status)
    (request,) = feature_stub.requests
    # The stored envelope, byte for byte as JSON, signed by core (the stub verified it).
    assert request.json == envelope
    assert request.headers["X-Alephdraad-Caller"] == "core-service"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [400, 404, 410, 413, 415, 422])
def test_a_permanent_4xx_is_dead_with_the_answer_kept(
    feature_stub: FeatureStub, status: int
) -> None:
    feature_stub.respond("POST", EVENTS, status, {"code": "NOPE", "detail": "x" * 900})

    outcome = deliver(emit().envelope)

    assert outcome.verdict is Verdict.DEAD
    assert (outcome.status, outcome.unreachable) == (status, False)
    # The status and an excerpt of the body, never the whole of a large body.
    assert outcome.error.startswith(f'HTTP {status}: {{"code": "NOPE", "detail": "xxx')
    assert len(outcome.error) == len(f"HTTP {status}: ") + dispatcher.BODY_EXCERPT_CHARS


@pytest.mark.parametrize("status", [401, 403, 408, 409, 425, 429, 500, 502, 503, 504, 302])
def test_transient_answers_are_retried_and_the_pass_goes_on(
    feature_stub: FeatureStub, status: int
) -> None:
    feature_stub.respond("POST", EVENTS, status, {"code": "LATER"})

    outcome = deliver(emit().envelope)

    assert outcome == DeliveryOutcome(
        Verdict.RETRY, status=status, error=f'HTTP {status}: {{"code": "LATER"}}'
    )


def test_a_stopped_feature_service_is_unreachable(feature_stub: FeatureStub) -> None:
    feature_stub.stop()

    outcome = deliver(emit().envelope)

    assert (outcome.verdict, outcome.status, outcome.unreachable) == (Verdict.RETRY, None, True)
    assert outcome.error.startswith("ConnectError: ")


def test_a_feature_service_that_does_not_answer_in_time_is_unreachable(
    feature_stub: FeatureStub, settings: Any
) -> None:
    settings.INTERNAL_TIMEOUT_SECONDS = 0.3
    release = threading.Event()

    def hang(request: ReceivedRequest) -> tuple[int, Any]:
        release.wait(timeout=10)
        return 200, {"status": "handled"}

    feature_stub.handle("POST", EVENTS, hang)
    try:
        outcome = deliver(emit().envelope)
    finally:
        release.set()

    assert (outcome.verdict, outcome.unreachable) == (Verdict.RETRY, True)
    assert outcome.error.startswith("ReadTimeout: ")


def test_without_a_signing_key_nothing_is_sent(feature_stub: FeatureStub, settings: Any) -> None:
    settings.INTERNAL_SIGNING_KEY = None

    outcome = deliver(emit().envelope)

    assert (outcome.verdict, outcome.unreachable) == (Verdict.RETRY, True)
    assert "CORE_INTERNAL_SIGNING_KEY" in outcome.error
    assert feature_stub.requests == []


# --- backoff ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 1), (2, 2), (3, 4), (6, 32), (9, 256), (10, 300), (500, 300)]
)
def test_backoff_doubles_from_one_second_up_to_the_maximum_minus_jitter(
    attempts: int, seconds: int, settings: Any
) -> None:
    settings.OUTBOX_MAX_BACKOFF_SECONDS = 300
    pauses = {backoff(attempts) for _ in range(50)}

    assert all(timedelta(seconds=seconds * 0.9) <= p <= timedelta(seconds=seconds) for p in pauses)
    assert len(pauses) > 1, "jitter spreads the retries"


# --- dispatch_due(): one pass -------------------------------------------------------------------


def test_a_pass_delivers_due_events_in_id_order_and_marks_them_delivered(
    feature_stub: FeatureStub, json_log: JsonLogCapture
) -> None:
    accept_events(feature_stub)
    # Written newest first: the pass must still send them in the order they happened.
    newest, middle, oldest = emit_at_seconds_ago(10, 20, 30)
    before = timezone.now()

    report = dispatch_due()

    assert report == DispatchReport(claimed=3, delivered=3)
    assert received_ids(feature_stub) == [oldest.pk, middle.pk, newest.pk]
    for event in (oldest, middle, newest):
        row = _row(event)
        assert (row.status, row.attempts, row.last_error) == (DELIVERED, 1, "")
        assert row.delivered_at is not None
        assert before <= row.delivered_at <= timezone.now()
    assert [line["event_id"] for line in json_log.messages("event delivered")] == [
        oldest.pk,
        middle.pk,
        newest.pk,
    ]
    # Nothing is due any more: a second pass sends nothing.
    assert dispatch_due() == DispatchReport()
    assert len(feature_stub.requests) == 3


def test_only_pending_events_that_are_due_are_sent(feature_stub: FeatureStub) -> None:
    accept_events(feature_stub)
    due = emit()
    now = timezone.now()
    emit(next_attempt_at=now + timedelta(minutes=1))  # backing off
    emit(status=DELIVERED, delivered_at=now)
    emit(status=DEAD, last_error="HTTP 422: …")

    report = dispatch_due(now=now)

    assert report == DispatchReport(claimed=1, delivered=1)
    assert received_ids(feature_stub) == [due.pk]


def test_a_pass_takes_at_most_the_batch_size_and_says_more_may_be_due(
    feature_stub: FeatureStub, settings: Any
) -> None:
    accept_events(feature_stub)
    settings.OUTBOX_BATCH_SIZE = 2
    first, second, third = emit_at_seconds_ago(3, 2, 1)

    assert dispatch_due() == DispatchReport(claimed=2, delivered=2, more_due=True)
    assert received_ids(feature_stub) == [first.pk, second.pk]
    assert _row(third).status == PENDING
    # `limit` overrides the setting.
    assert dispatch_due(limit=5) == DispatchReport(claimed=1, delivered=1)
    assert _row(third).status == DELIVERED


def test_the_event_request_id_travels_as_x_request_id_and_in_the_logs(
    feature_stub: FeatureStub, json_log: JsonLogCapture
) -> None:
    accept_events(feature_stub)
    traced = emit(request_id="req-register-42")
    untraced = emit()

    dispatch_due()

    by_id = {r.json["id"]: r.headers["X-Request-ID"] for r in feature_stub.requests}
    assert by_id[traced.pk] == "req-register-42"
    # An event from no request (a command, the worker) gets a fresh id of its own.
    assert len(by_id[untraced.pk]) == 32
    assert by_id[untraced.pk] != "req-register-42"
    logged = {line["event_id"]: line["request_id"] for line in json_log.messages("event delivered")}
    assert logged == by_id


def test_a_refused_event_is_dead_logged_as_an_error_and_the_pass_goes_on(
    feature_stub: FeatureStub, json_log: JsonLogCapture
) -> None:
    refused, fine = emit_at_seconds_ago(2, 1)

    def answer(request: ReceivedRequest) -> tuple[int, Any]:
        if request.json["id"] == refused.pk:
            return 422, {"code": "UNPROCESSABLE_CONTENT", "detail": "/data/user_id: bad"}
        return 200, {"status": "handled"}

    feature_stub.handle("POST", EVENTS, answer)

    report = dispatch_due()

    assert report == DispatchReport(claimed=2, delivered=1, dead=1)
    row = _row(refused)
    assert (row.status, row.attempts, row.delivered_at) == (DEAD, 1, None)
    assert row.last_error == (
        'HTTP 422: {"code": "UNPROCESSABLE_CONTENT", "detail": "/data/user_id: bad"}'
    )
    assert _row(fine).status == DELIVERED
    [logged] = json_log.messages("event refused for good")
    assert (logged["level"], logged["event_id"], logged["status"]) == ("error", refused.pk, 422)
    # Dead events are not sent again.
    assert dispatch_due() == DispatchReport()


def test_a_transient_failure_backs_off_and_is_retried_when_due(
    feature_stub: FeatureStub, json_log: JsonLogCapture
) -> None:
    feature_stub.respond("POST", EVENTS, 503, {"code": "NOT_READY"})
    event = emit()
    now = timezone.now()

    assert dispatch_due(now=now) == DispatchReport(claimed=1, retried=1)

    row = _row(event)
    assert (row.status, row.attempts) == (PENDING, 1)
    assert row.last_error == 'HTTP 503: {"code": "NOT_READY"}'
    assert now + timedelta(seconds=0.9) <= row.next_attempt_at <= now + timedelta(seconds=1)
    assert json_log.messages("event delivery failed; will retry")[0]["level"] == "warning"
    # Not due before its backoff ends.
    assert dispatch_due(now=now + timedelta(seconds=0.5)) == DispatchReport()

    later = now + timedelta(seconds=1)
    assert dispatch_due(now=later) == DispatchReport(claimed=1, retried=1)
    row = _row(event)
    assert row.attempts == 2
    assert later + timedelta(seconds=1.8) <= row.next_attempt_at <= later + timedelta(seconds=2)

    accept_events(feature_stub)
    assert dispatch_due(now=later + timedelta(seconds=2)) == DispatchReport(claimed=1, delivered=1)
    row = _row(event)
    assert (row.status, row.attempts, row.last_error) == (DELIVERED, 3, "")
    assert received_ids(feature_stub) == [event.pk] * 3


def test_an_unreachable_feature_service_stops_the_pass_after_one_attempt(
    feature_stub: FeatureStub, json_log: JsonLogCapture
) -> None:
    first, second, third = emit_at_seconds_ago(3, 2, 1)
    untouched_due = {e.pk: _row(e).next_attempt_at for e in (second, third)}
    feature_stub.stop()
    now = timezone.now()

    report = dispatch_due(now=now)

    assert report == DispatchReport(claimed=3, retried=1, stopped_early=True)
    row = _row(first)
    assert (row.status, row.attempts) == (PENDING, 1)
    assert row.last_error.startswith("ConnectError: ")
    assert row.next_attempt_at > now
    # The rest were not tried: no attempt counted, still due for the next pass.
    for event in (second, third):
        row = _row(event)
        assert (row.status, row.attempts, row.last_error) == (PENDING, 0, "")
        assert row.next_attempt_at == untouched_due[event.pk]
    [stopped] = json_log.messages("feature service unreachable; dispatch pass stopped")
    assert (stopped["event_id"], stopped["left_for_next_pass"]) == (first.pk, 2)

    # Back up: the next passes deliver everything, the backed-off event once it is due.
    feature_stub.start()
    accept_events(feature_stub)
    assert dispatch_due(now=now) == DispatchReport(claimed=2, delivered=2)
    assert dispatch_due(now=now + timedelta(seconds=1)) == DispatchReport(claimed=1, delivered=1)
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {DELIVERED}
    assert sorted(received_ids(feature_stub)) == sorted([first.pk, second.pk, third.pk])


def test_without_a_signing_key_events_wait_and_the_pass_stops(
    feature_stub: FeatureStub, settings: Any
) -> None:
    settings.INTERNAL_SIGNING_KEY = None
    first, second = emit_at_seconds_ago(2, 1)

    assert dispatch_due() == DispatchReport(claimed=2, retried=1, stopped_early=True)
    assert _row(first).attempts == 1
    assert "CORE_INTERNAL_SIGNING_KEY is not set" in _row(first).last_error
    assert _row(second).attempts == 0
    assert feature_stub.requests == []


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher._jitter, "uniform", lambda low, high: 0.0)


@pytest.mark.usefixtures("no_jitter")
def test_retries_of_an_old_event_never_wait_longer_than_the_maximum(
    feature_stub: FeatureStub, settings: Any
) -> None:
    settings.OUTBOX_MAX_BACKOFF_SECONDS = 60
    feature_stub.respond("POST", EVENTS, 500, {"code": "INTERNAL_ERROR"})
    event = emit(attempts=40)
    now = timezone.now()

    dispatch_due(now=now)

    row = _row(event)
    assert row.attempts == 41
    assert row.next_attempt_at == now + timedelta(seconds=60)


def test_a_full_batch_of_transient_failures_does_not_ask_for_another_pass_at_once(
    feature_stub: FeatureStub, settings: Any
) -> None:
    settings.OUTBOX_BATCH_SIZE = 2
    feature_stub.respond("POST", EVENTS, 503, {"code": "NOT_READY"})
    emit_at_seconds_ago(3, 2, 1)

    # The worker waits a poll before the next pass: the feature service is struggling.
    assert dispatch_due() == DispatchReport(claimed=2, retried=2, more_due=False)
