"""`manage.py reconcile`: events core owes the feature service (missing or dead), and core
columns that point at feature-service ids (a registry of checks, asked through the lookup)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from alephdraad_contracts import THREAD_DELETED, THREAD_RESTORED, USER_DELETED
from alephdraad_core.accounts.events import emit_user_deleted
from alephdraad_core.content.events import (
    emit_thread_deleted,
    emit_thread_moved,
    emit_thread_restored,
)
from alephdraad_core.content.models import Thread
from alephdraad_core.internal import reconcile
from alephdraad_core.internal.peers import ReplyState
from alephdraad_core.internal.reconcile import Reference, ReferenceCheck, event_findings
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.platform.housekeeping import DELIVERED_EVENT_RETENTION
from tests.content_helpers import make_member, make_thread
from tests.feature_stub import FeatureStub, ReceivedRequest

pytestmark = pytest.mark.django_db

LOOKUP = "/internal/v1/lookup"


def reconcile_cmd(*args: str) -> tuple[int, str]:
    """Run the command; (exit status, what it printed)."""
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def tombstone(*, days_ago: float = 0, event: str | None = "pending") -> Any:
    """A deleted account (anonymised as DELETE /me leaves it) and, unless `event` is None, its
    user.deleted event in that status."""
    user = make_member(deleted_at=timezone.now() - timedelta(days=days_ago))
    if event is not None:
        with transaction.atomic():
            row = emit_user_deleted(user.pk)
        OutboxEvent.objects.filter(pk=row.pk).update(status=event)
    return user


def deleted_thread(*, days_ago: float = 0, event: str | None = "delivered") -> Thread:
    thread = make_thread(make_member())
    Thread.objects.filter(pk=thread.pk).update(
        is_deleted=True, deleted_at=timezone.now() - timedelta(days=days_ago)
    )
    if event is not None:
        _publish(thread, THREAD_DELETED, event)
    return thread


def _publish(thread: Thread, event_type: str, status: str = "delivered") -> OutboxEvent:
    emit = emit_thread_deleted if event_type == THREAD_DELETED else emit_thread_restored
    with transaction.atomic():
        row = emit(thread.pk, author_id=thread.author_id, actor=None)
    OutboxEvent.objects.filter(pk=row.pk).update(status=status)
    return row


def events_of(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=event_type).order_by("id"))


# --- (a) events owed ---------------------------------------------------------------------------


def test_a_database_in_agreement_is_clean() -> None:
    tombstone(event="delivered")
    deleted_thread(event="pending")
    live = make_thread(make_member())
    _publish(live, THREAD_DELETED)
    _publish(live, THREAD_RESTORED)

    assert reconcile_cmd() == (0, "reconcile: clean\n")


def test_a_missing_user_deleted_event_is_reported_then_fixed() -> None:
    user = tombstone(event=None)

    status, output = reconcile_cmd()

    assert status == 1
    assert output.splitlines() == [
        f"user.deleted user {user.pk}: event missing",
        "reconcile: 1 finding(s), 0 fixed, 1 left",
    ]
    assert events_of(USER_DELETED) == []

    status, output = reconcile_cmd("--fix")

    assert status == 0
    [event] = events_of(USER_DELETED)
    assert event.envelope["data"] == {"user_id": user.pk}
    assert event.status == OutboxEvent.Status.PENDING
    assert output.splitlines() == [
        f"user.deleted user {user.pk}: event missing [fixed: {event.id}]",
        "reconcile: 1 finding(s), 1 fixed, 0 left",
    ]
    assert reconcile_cmd() == (0, "reconcile: clean\n")


def test_a_dead_event_is_found_at_any_age_and_replaced_by_a_fresh_one() -> None:
    user = tombstone(days_ago=400, event="dead")
    [dead] = events_of(USER_DELETED)

    assert reconcile_cmd()[1].splitlines()[0] == f"user.deleted user {user.pk}: event dead"
    assert reconcile_cmd("--fix")[0] == 0

    fresh = [event for event in events_of(USER_DELETED) if event.pk != dead.pk]
    assert len(fresh) == 1
    assert fresh[0].envelope["data"] == {"user_id": user.pk}
    # The dead one stays for the operator to see; the new one makes the account agree.
    assert OutboxEvent.objects.get(pk=dead.pk).status == OutboxEvent.Status.DEAD
    assert reconcile_cmd()[0] == 0


def test_a_live_event_next_to_a_dead_one_is_enough() -> None:
    tombstone(event="dead")
    user = tombstone(event="dead")
    with transaction.atomic():
        emit_user_deleted(user.pk)

    status, output = reconcile_cmd()

    assert status == 1
    assert output.count("user.deleted") == 1


def test_only_deletions_younger_than_the_outbox_retention_can_miss_their_event() -> None:
    # Past the retention a delivered event may have been purged: no verdict without asking.
    days = DELIVERED_EVENT_RETENTION.days
    recent = tombstone(days_ago=days - 1, event=None)
    tombstone(days_ago=days + 1, event=None)
    old_thread = deleted_thread(days_ago=days + 1, event=None)

    status, output = reconcile_cmd()

    assert status == 1
    assert output.splitlines()[:-1] == [f"user.deleted user {recent.pk}: event missing"]
    wide = reconcile_cmd("--window-days", str(days + 30))[1]
    assert f"thread.deleted thread {old_thread.pk}: event missing" in wide
    assert wide.endswith("reconcile: 3 finding(s), 0 fixed, 3 left\n")


def test_deleted_threads_without_their_deletion_event_are_republished() -> None:
    never = deleted_thread(event=None)
    dead = deleted_thread(event="dead")
    # Deleted, restored (published), deleted again without an event: the latest says live.
    again = deleted_thread(event="delivered")
    _publish(again, THREAD_RESTORED)
    # A move after the deletion says nothing about visibility: the deletion still counts.
    moved_after = deleted_thread(event="delivered")
    with transaction.atomic():
        emit_thread_moved(
            moved_after.pk,
            from_category_id=moved_after.category_id,
            to_category_id=moved_after.category_id,
            from_author_id=moved_after.author_id,
            to_author_id=moved_after.author_id,
            actor=None,
        )

    status, output = reconcile_cmd()

    assert status == 1
    assert output.splitlines() == [
        f"thread.deleted thread {never.pk}: event missing",
        f"thread.deleted thread {dead.pk}: event dead",
        f"thread.deleted thread {again.pk}: event missing",
        "reconcile: 3 finding(s), 0 fixed, 3 left",
    ]

    assert reconcile_cmd("--fix")[0] == 0
    republished = {
        event.envelope["data"]["thread_id"]: event.envelope["data"]
        for event in events_of(THREAD_DELETED)
        if event.status == OutboxEvent.Status.PENDING
    }
    assert republished == {
        thread.pk: {"thread_id": thread.pk, "author_id": thread.author_id, "actor": None}
        for thread in (never, dead, again)
    }
    assert reconcile_cmd()[0] == 0


def test_live_threads_the_feature_service_still_hides_are_republished() -> None:
    unpublished_restore = make_thread(make_member())
    _publish(unpublished_restore, THREAD_DELETED)
    refused_restore = make_thread(make_member())
    _publish(refused_restore, THREAD_DELETED)
    _publish(refused_restore, THREAD_RESTORED, status="dead")
    never_hidden = make_thread(make_member())
    _publish(never_hidden, THREAD_DELETED, status="dead")

    status, output = reconcile_cmd("--fix")

    assert status == 0
    assert output.splitlines()[:-1] == [
        f"thread.restored thread {unpublished_restore.pk}: event missing [fixed: "
        f"{events_of(THREAD_RESTORED)[-2].id}]",
        f"thread.restored thread {refused_restore.pk}: event dead [fixed: "
        f"{events_of(THREAD_RESTORED)[-1].id}]",
    ]
    assert reconcile_cmd()[0] == 0


def test_a_fix_rechecks_the_row_under_its_lock() -> None:
    thread = deleted_thread(event=None)
    [finding] = event_findings()
    # Restored (and published) between the report and the repair.
    Thread.objects.filter(pk=thread.pk).update(is_deleted=False, deleted_at=None)

    finding.do_fix()

    assert (finding.fixed, finding.note) == (True, "no longer needed")
    assert events_of(THREAD_DELETED) == []


def test_json_output() -> None:
    user = tombstone(event=None)

    status, output = reconcile_cmd("--json", "--fix")

    assert status == 0
    report = json.loads(output)
    [event] = events_of(USER_DELETED)
    assert report == {
        "findings": [
            {
                "check": "user.deleted",
                "subject": f"user {user.pk}",
                "problem": "event missing",
                "fixed": True,
                "note": event.id,
            }
        ],
        "found": 1,
        "fixed": 1,
        "left": 0,
        "reference_checks": "done",
    }


def test_a_negative_window_is_refused() -> None:
    assert reconcile_cmd("--window-days", "-1")[0] == 1


# --- (b) references to feature-service ids -----------------------------------------------------


class AcceptedAnswers:
    """A stand-in for a core column holding reply ids, registered as a check for the test."""

    def __init__(self, references: dict[int, str]) -> None:
        self.references = references
        self.repaired: list[tuple[int, str, ReplyState]] = []

    def check(self) -> ReferenceCheck:
        return ReferenceCheck(
            name="threads.accepted_reply_id",
            references=lambda: [Reference(row, target) for row, target in self.references.items()],
            repair=lambda reference, state: self.repaired.append(
                (reference.row_id, reference.target_id, state)
            ),
        )


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> AcceptedAnswers:
    registered = AcceptedAnswers({})
    monkeypatch.setattr(reconcile, "REFERENCE_CHECKS", [registered.check()])
    return registered


def _state(exists: bool, deleted: bool = False, thread_id: int | None = 7) -> dict[str, Any]:
    return {"exists": exists, "deleted": deleted, "thread_id": thread_id, "author_id": 3}


def answer_lookup(stub: FeatureStub, states: dict[str, dict[str, Any]]) -> None:
    def handler(request: ReceivedRequest) -> tuple[int, Any]:
        asked = request.json["reply_ids"]
        return 200, {"replies": {reply_id: states[reply_id] for reply_id in asked}}

    stub.handle("POST", LOOKUP, handler)


def test_orphaned_references_are_reported_and_repaired_by_their_check(
    answers: AcceptedAnswers, feature_stub: FeatureStub
) -> None:
    answers.references.update({1: "rpl_live", 2: "rpl_deleted", 3: "rpl_missing"})
    answer_lookup(
        feature_stub,
        {
            "rpl_live": _state(True),
            "rpl_deleted": _state(True, deleted=True),
            "rpl_missing": _state(False, thread_id=None),
        },
    )

    status, output = reconcile_cmd()

    assert status == 1
    assert output.splitlines() == [
        "threads.accepted_reply_id row 2 -> rpl_deleted: reply deleted",
        "threads.accepted_reply_id row 3 -> rpl_missing: reply missing",
        "reconcile: 2 finding(s), 0 fixed, 2 left",
    ]
    assert answers.repaired == []
    [asked] = feature_stub.requests_to("POST", LOOKUP)
    assert asked.json == {"reply_ids": ["rpl_live", "rpl_deleted", "rpl_missing"]}

    status, output = reconcile_cmd("--fix")

    assert status == 0
    assert answers.repaired == [
        (2, "rpl_deleted", ReplyState(True, True, 7, 3)),
        (3, "rpl_missing", ReplyState(False, False, None, 3)),
    ]
    assert output.endswith("reconcile: 2 finding(s), 2 fixed, 0 left\n")


def test_ids_are_asked_in_batches_of_100_each_once(
    answers: AcceptedAnswers, feature_stub: FeatureStub
) -> None:
    answers.references.update({row: f"rpl_{row % 230}" for row in range(1, 251)})
    answer_lookup(feature_stub, {f"rpl_{n}": _state(True) for n in range(230)})

    assert reconcile_cmd() == (0, "reconcile: clean\n")

    batches = [request.json["reply_ids"] for request in feature_stub.requests_to("POST", LOOKUP)]
    assert [len(batch) for batch in batches] == [100, 100, 30]
    assert len({reply_id for batch in batches for reply_id in batch}) == 230


def test_a_check_may_judge_more_than_existence(
    monkeypatch: pytest.MonkeyPatch, feature_stub: FeatureStub
) -> None:
    # An accepted answer must be a reply of its own thread (row id = thread id here).
    check = ReferenceCheck(
        name="threads.accepted_reply_id",
        references=lambda: [Reference(7, "rpl_here"), Reference(8, "rpl_elsewhere")],
        repair=lambda reference, state: None,
        is_orphan=lambda reference, state: state.thread_id != reference.row_id,
    )
    monkeypatch.setattr(reconcile, "REFERENCE_CHECKS", [check])
    answer_lookup(
        feature_stub, {"rpl_here": _state(True, thread_id=7), "rpl_elsewhere": _state(True)}
    )

    status, output = reconcile_cmd()

    assert status == 1
    assert output.splitlines()[0] == (
        "threads.accepted_reply_id row 8 -> rpl_elsewhere: reply does not fit"
    )


def test_without_references_the_feature_service_is_not_asked(
    feature_stub: FeatureStub,
) -> None:
    # The registered check (accepted answers) has nothing to ask about.
    assert reconcile.REFERENCE_CHECKS == [reconcile.ACCEPTED_REPLY_CHECK]
    make_thread(make_member())
    assert reconcile_cmd()[0] == 0
    assert feature_stub.requests == []


@pytest.mark.parametrize(
    "answer",
    [
        None,
        (200, {"replies": {}}),
        (200, {"replies": {"rpl_a": {"exists": "yes", "deleted": False}}}),
        (200, {"replies": {"rpl_a": {**_state(True), "thread_id": "7"}}}),
        (200, ["rpl_a"]),
        (500, {"code": "INTERNAL_ERROR"}),
        (404, {"code": "NOT_FOUND"}),
    ],
    ids=["unreachable", "id left out", "not a bool", "id not an int", "a list", "5xx", "4xx"],
)
def test_no_verdict_without_a_usable_answer(
    answers: AcceptedAnswers, feature_stub: FeatureStub, answer: tuple[int, Any] | None
) -> None:
    answers.references.update({1: "rpl_a"})
    user = tombstone(event=None)
    if answer is None:
        feature_stub.stop()
    else:
        feature_stub.respond("POST", LOOKUP, *answer)

    status, output = reconcile_cmd("--fix")

    assert status == 2
    # The event checks still ran (and fixed what they found); nothing was repaired blindly.
    assert output.splitlines()[0].startswith(f"user.deleted user {user.pk}: event missing [fixed")
    assert "reference checks skipped" in output
    assert answers.repaired == []


# --- the registered check: threads.accepted_reply_id -------------------------------------------


def _accepted(thread: Thread, reply_id: str) -> Thread:
    Thread.objects.filter(pk=thread.pk).update(
        accepted_reply_id=reply_id, accepted_at=timezone.now()
    )
    return thread


def _accepted_reply_of(thread: Thread) -> str | None:
    return Thread.objects.values_list("accepted_reply_id", flat=True).get(pk=thread.pk)


REPLY_LIVE = "rpl_01JD0000000000000000000001"
REPLY_DELETED = "rpl_01JD0000000000000000000002"
REPLY_MISSING = "rpl_01JD0000000000000000000003"
REPLY_ELSEWHERE = "rpl_01JD0000000000000000000004"
REPLY_HIDDEN = "rpl_01JD0000000000000000000005"


@pytest.fixture
def answered(feature_stub: FeatureStub) -> dict[str, Thread]:
    """Threads whose accepted answers the stub feature service judges in every way."""
    author = make_member()
    threads = {
        name: _accepted(make_thread(author, title=f"Question {name}"), reply_id)
        for name, reply_id in [
            ("live", REPLY_LIVE),
            ("deleted", REPLY_DELETED),
            ("missing", REPLY_MISSING),
            ("elsewhere", REPLY_ELSEWHERE),
        ]
    }
    threads["unanswered"] = make_thread(author, title="Nobody answered")
    # A deleted thread's replies are hidden by the feature service, not gone: not checked.
    threads["hidden"] = _accepted(deleted_thread(), REPLY_HIDDEN)
    answer_lookup(
        feature_stub,
        {
            REPLY_LIVE: _state(True, thread_id=threads["live"].pk),
            REPLY_DELETED: _state(True, deleted=True, thread_id=threads["deleted"].pk),
            REPLY_MISSING: _state(False, thread_id=None),
            REPLY_ELSEWHERE: _state(True, thread_id=threads["live"].pk),
        },
    )
    return threads


def test_orphaned_accepted_answers_are_reported_then_cleared(
    answered: dict[str, Thread], feature_stub: FeatureStub
) -> None:
    deleted, missing, elsewhere = (answered[n].pk for n in ("deleted", "missing", "elsewhere"))

    status, output = reconcile_cmd()

    assert status == 1
    assert output.splitlines() == [
        f"threads.accepted_reply_id row {deleted} -> {REPLY_DELETED}: reply deleted",
        f"threads.accepted_reply_id row {missing} -> {REPLY_MISSING}: reply missing",
        f"threads.accepted_reply_id row {elsewhere} -> {REPLY_ELSEWHERE}: reply does not fit",
        "reconcile: 3 finding(s), 0 fixed, 3 left",
    ]
    # One batch, live threads only, in thread order; nothing changed by a report.
    [asked] = feature_stub.requests_to("POST", LOOKUP)
    assert asked.json == {"reply_ids": [REPLY_LIVE, REPLY_DELETED, REPLY_MISSING, REPLY_ELSEWHERE]}
    assert _accepted_reply_of(answered["deleted"]) == REPLY_DELETED

    status, output = reconcile_cmd("--fix")

    assert status == 0
    assert output.endswith("reconcile: 3 finding(s), 3 fixed, 0 left\n")
    cleared = Thread.objects.filter(pk__in=[deleted, missing, elsewhere])
    assert list(cleared.values_list("accepted_reply_id", "accepted_at").distinct()) == [
        (None, None)
    ]
    assert _accepted_reply_of(answered["live"]) == REPLY_LIVE
    assert _accepted_reply_of(answered["hidden"]) == REPLY_HIDDEN
    assert reconcile_cmd() == (0, "reconcile: clean\n")


def test_a_repair_leaves_an_answer_the_author_replaced_meanwhile(
    answered: dict[str, Thread],
) -> None:
    findings = reconcile.reference_findings()
    assert len(findings) == 3
    # Between the report and the repair, the author accepted a live reply instead.
    _accepted(answered["deleted"], REPLY_LIVE)

    for finding in findings:
        finding.do_fix()

    assert _accepted_reply_of(answered["deleted"]) == REPLY_LIVE
    assert _accepted_reply_of(answered["missing"]) is None


def test_no_accepted_answer_is_cleared_without_a_usable_answer(
    answered: dict[str, Thread], feature_stub: FeatureStub
) -> None:
    feature_stub.stop()

    status, output = reconcile_cmd("--fix")

    assert status == 2
    assert "reference checks skipped" in output
    assert _accepted_reply_of(answered["deleted"]) == REPLY_DELETED
    assert _accepted_reply_of(answered["missing"]) == REPLY_MISSING
