"""Dispatchers in several replicas at once, with real commits: SELECT … FOR UPDATE SKIP LOCKED
gives each pass its own events, so every event reaches the feature service exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import transaction

from alephdraad_core.outbox.dispatcher import DispatchReport, dispatch_due
from alephdraad_core.outbox.models import OutboxEvent
from tests.concurrency import in_threads
from tests.feature_stub import FeatureStub, ReceivedRequest
from tests.outbox_support import EVENTS, emit, emit_at_seconds_ago, received_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _passes_until_nothing_is_due() -> list[DispatchReport]:
    reports = []
    while (report := dispatch_due()).claimed:
        reports.append(report)
    return reports


def test_two_dispatchers_at_once_deliver_each_event_exactly_once(
    feature_stub: FeatureStub, settings: Any
) -> None:
    settings.OUTBOX_BATCH_SIZE = 4
    events = emit_at_seconds_ago(*range(12, 0, -1))
    # The first request of each dispatcher waits for the other's: both passes hold claimed
    # batches at the same moment. Were the rows locked without SKIP LOCKED, the second pass
    # would wait for the first to commit while the first waits here - the barrier breaks and
    # the test fails; were they not locked, both would send the same events.
    both_in_flight = threading.Barrier(2)
    arrivals = 0
    lock = threading.Lock()

    def answer(request: ReceivedRequest) -> tuple[int, Any]:
        nonlocal arrivals
        with lock:
            arrivals += 1
            first_two = arrivals <= 2
        if first_two:
            both_in_flight.wait(timeout=10)
        return 200, {"status": "handled"}

    feature_stub.handle("POST", EVENTS, answer)

    first, second = in_threads(_passes_until_nothing_is_due, _passes_until_nothing_is_due)

    assert Counter(received_ids(feature_stub)) == Counter(event.pk for event in events)
    delivered = [sum(report.delivered for report in reports) for reports in (first, second)]
    assert sum(delivered) == len(events)
    assert all(count > 0 for count in delivered), "both dispatchers took a share"
    rows = OutboxEvent.objects.filter(pk__in=[event.pk for event in events])
    assert {(row.status, row.attempts) for row in rows} == {(OutboxEvent.Status.DELIVERED, 1)}


def test_an_event_of_an_open_transaction_is_not_sent_and_a_rollback_never_sends_it(
    feature_stub: FeatureStub,
) -> None:
    feature_stub.respond("POST", EVENTS, 200, {"status": "handled"})
    written, decided = threading.Event(), threading.Event()

    class Abort(Exception):
        pass

    def change_that_fails() -> None:
        try:
            with transaction.atomic():
                emit()
                written.set()
                assert decided.wait(timeout=10)
                raise Abort
        except Abort:
            return

    def dispatch_while_open() -> DispatchReport:
        assert written.wait(timeout=10)
        try:
            return dispatch_due()
        finally:
            decided.set()

    _, report = in_threads(change_that_fails, dispatch_while_open)

    assert report == DispatchReport()
    assert dispatch_due() == DispatchReport()
    assert feature_stub.requests == []
    assert not OutboxEvent.objects.exists()
