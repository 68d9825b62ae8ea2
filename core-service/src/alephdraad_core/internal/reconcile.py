"""What `manage.py reconcile` checks (DESIGN section 7): that the two databases still agree.

(a) Events core owes the feature service. Every anonymised account must have published
    user.deleted, and every deleted thread thread.deleted (a restored one thread.restored),
    and the event must not be dead (refused by the consumer). Events are written in the
    change's transaction, so a gap means an event was lost after the fact (deleted by hand,
    a restore from a backup) or refused; the repair publishes a fresh one (a new id), which
    consumers handle like the first (their effects are idempotent).

    Delivered events are purged from the outbox after DELIVERED_EVENT_RETENTION, so only a
    change younger than that can be told to have *no* event; a dead event is never purged and
    is found whatever its age.

(b) Core columns that hold feature-service ids (`REFERENCE_CHECKS`): each check lists its
    references, the feature service's lookup says what each id is now (batched, one call per
    LOOKUP_BATCH ids), and the check's own `repair` mends an orphan. One so far: a live
    thread's accepted answer (`threads.accepted_reply_id`) must be a live reply of that thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from alephdraad_contracts import THREAD_DELETED, THREAD_RESTORED, USER_DELETED
from alephdraad_core.accounts.events import emit_user_deleted
from alephdraad_core.accounts.models import User
from alephdraad_core.content.events import emit_thread_deleted, emit_thread_restored
from alephdraad_core.content.models import Thread
from alephdraad_core.content.selectors import accepted_replies
from alephdraad_core.content.services import do_forget_accepted_reply
from alephdraad_core.internal.peers import ReplyState, fetch_reply_states
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.platform.housekeeping import DELIVERED_EVENT_RETENTION

EVENT_MISSING = "event missing"
EVENT_DEAD = "event dead"

_DEAD = OutboxEvent.Status.DEAD.value


@dataclass
class Finding:
    """One disagreement: `check` names what was checked, `subject` the row, `problem` what is
    wrong; `repair` mends it (in its own transaction) and returns a note such as the new
    event's id, or None when the row changed meanwhile and nothing is owed any more."""

    check: str
    subject: str
    problem: str
    repair: Callable[[], str | None] = field(repr=False)
    fixed: bool = False
    note: str = ""

    def do_fix(self) -> None:
        with transaction.atomic():
            note = self.repair()
        self.fixed = True
        self.note = note if note is not None else "no longer needed"


# --- (a) events owed -----------------------------------------------------------------------------


def event_findings(
    *, now: datetime | None = None, window: timedelta | None = None
) -> list[Finding]:
    """Anonymised users and deleted or restored threads whose event is missing or dead.

    `window` bounds how old a change may be to count as missing its event (default: the
    outbox's DELIVERED_EVENT_RETENTION, beyond which a delivered event may have been purged);
    dead events count at any age. Three scans: the lifecycle events in the outbox (bounded by
    its retention), the tombstones and the deleted threads."""
    moment = now if now is not None else timezone.now()
    horizon = moment - (window if window is not None else DELIVERED_EVENT_RETENTION)
    return [*_user_findings(horizon), *_thread_findings(horizon)]


def _user_findings(horizon: datetime) -> Iterator[Finding]:
    # {user id: whether some user.deleted event of theirs is pending or delivered}
    healthy: dict[int, bool] = {}
    for user_id, status in OutboxEvent.objects.filter(type=USER_DELETED).values_list(
        "envelope__data__user_id", "status"
    ):
        healthy[user_id] = healthy.get(user_id, False) or status != _DEAD
    tombstones = (
        User.objects.filter(deleted_at__isnull=False)
        .order_by("id")
        .values_list("id", "deleted_at")
        .iterator()
    )
    for user_id, deleted_at in tombstones:
        if healthy.get(user_id):
            continue
        if user_id in healthy:
            problem = EVENT_DEAD
        elif deleted_at >= horizon:
            problem = EVENT_MISSING
        else:
            continue
        yield Finding(
            USER_DELETED, f"user {user_id}", problem, repair=_republish_user_deleted(user_id)
        )


def _republish_user_deleted(user_id: int) -> Callable[[], str | None]:
    def repair() -> str | None:
        # Under the row lock, so the event describes the row as it is when it commits.
        tombstone = User.objects.select_for_update().filter(pk=user_id, deleted_at__isnull=False)
        if tombstone.first() is None:
            return None
        return emit_user_deleted(user_id).id

    return repair


def _thread_findings(horizon: datetime) -> Iterator[Finding]:
    # The latest deleted/restored event of each thread, in event order (ids are ULIDs).
    # thread.moved says nothing about whether a thread is visible, so it is not looked at.
    latest: dict[int, tuple[str, str]] = {}
    for thread_id, event_type, status in (
        OutboxEvent.objects.filter(type__in=(THREAD_DELETED, THREAD_RESTORED))
        .order_by("id")
        .values_list("envelope__data__thread_id", "type", "status")
    ):
        latest[thread_id] = (event_type, status)

    deleted = (
        Thread.objects.filter(is_deleted=True)
        .order_by("id")
        .values_list("id", "deleted_at")
        .iterator()
    )
    for thread_id, deleted_at in deleted:
        event = latest.get(thread_id)
        if event is not None and event[0] == THREAD_DELETED:
            if event[1] != _DEAD:
                continue
            problem = EVENT_DEAD
        elif deleted_at is not None and deleted_at >= horizon:
            # No event, or the latest says "restored": the deletion was never published.
            problem = EVENT_MISSING
        else:
            continue
        yield Finding(
            THREAD_DELETED,
            f"thread {thread_id}",
            problem,
            repair=_republish_thread_state(thread_id, deleted=True),
        )

    # Live threads the feature service still hides: their latest event is a delivered (or
    # pending) thread.deleted, so the restore was never published, or a dead thread.restored.
    # (A live thread whose deletion was refused was never hidden: nothing is owed.)
    suspects = [
        thread_id
        for thread_id, (event_type, status) in latest.items()
        if (event_type == THREAD_DELETED) != (status == _DEAD)
    ]
    live = Thread.objects.filter(pk__in=suspects, is_deleted=False).order_by("id")
    for thread_id in live.values_list("id", flat=True):
        event_type, _status = latest[thread_id]
        yield Finding(
            THREAD_RESTORED,
            f"thread {thread_id}",
            EVENT_DEAD if event_type == THREAD_RESTORED else EVENT_MISSING,
            repair=_republish_thread_state(thread_id, deleted=False),
        )


def _republish_thread_state(thread_id: int, *, deleted: bool) -> Callable[[], str | None]:
    def repair() -> str | None:
        row = (
            Thread.objects.select_for_update()
            .filter(pk=thread_id, is_deleted=deleted)
            .values("author_id")
            .first()
        )
        if row is None:
            return None
        # Nobody in particular caused this copy: the actor of the original is not known.
        emit = emit_thread_deleted if deleted else emit_thread_restored
        return emit(thread_id, author_id=row["author_id"], actor=None).id

    return repair


# --- (b) references to feature-service ids ------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One core row (`row_id`) whose column holds a feature-service id (`target_id`)."""

    row_id: int
    target_id: str


def reply_is_gone(reference: Reference, state: ReplyState) -> bool:
    return not state.exists or state.deleted


@dataclass(frozen=True)
class ReferenceCheck:
    """A core column that points at feature-service replies.

    `references` lists the rows that hold a reply id; `is_orphan` judges the feature
    service's answer (default: the reply is missing or deleted; a check may also insist on
    its thread); `repair` mends one orphan, in a transaction the caller opens (e.g. clears
    the column and publishes what changed)."""

    name: str
    references: Callable[[], Iterable[Reference]]
    repair: Callable[[Reference, ReplyState], None]
    is_orphan: Callable[[Reference, ReplyState], bool] = reply_is_gone


def _accepted_reply_references() -> Iterator[Reference]:
    for thread_id, reply_id in accepted_replies():
        yield Reference(thread_id, reply_id)


def _accepted_reply_is_orphan(reference: Reference, state: ReplyState) -> bool:
    # Also a reply of another thread: that can only be a corrupted row (the PUT checks it), and
    # pointing a thread at another thread's reply is as wrong as pointing at nothing.
    return reply_is_gone(reference, state) or state.thread_id != reference.row_id


def _forget_accepted_reply(reference: Reference, state: ReplyState) -> None:
    # Conditional on the id found: an answer the author replaced meanwhile is left alone.
    do_forget_accepted_reply(reference.row_id, reference.target_id)


ACCEPTED_REPLY_CHECK = ReferenceCheck(
    name="threads.accepted_reply_id",
    references=_accepted_reply_references,
    repair=_forget_accepted_reply,
    is_orphan=_accepted_reply_is_orphan,
)

# Every core column holding feature-service reply ids (Reference.row_id is the row's id).
REFERENCE_CHECKS: list[ReferenceCheck] = [ACCEPTED_REPLY_CHECK]


def reference_findings(checks: Iterable[ReferenceCheck] | None = None) -> list[Finding]:
    """Orphans of every registered check. The feature service is asked about each reply id
    once, in batches; if it cannot answer, `UpstreamUnavailable` propagates: no verdict is
    made on an answer nobody gave."""
    findings: list[Finding] = []
    for check in REFERENCE_CHECKS if checks is None else checks:
        references = list(check.references())
        if not references:
            continue
        states = fetch_reply_states(reference.target_id for reference in references)
        for reference in references:
            state = states[reference.target_id]
            if check.is_orphan(reference, state):
                findings.append(
                    Finding(
                        check.name,
                        f"row {reference.row_id} -> {reference.target_id}",
                        _describe(state),
                        repair=_repair_reference(check, reference, state),
                    )
                )
    return findings


def _describe(state: ReplyState) -> str:
    if not state.exists:
        return "reply missing"
    if state.deleted:
        return "reply deleted"
    return "reply does not fit"


def _repair_reference(
    check: ReferenceCheck, reference: Reference, state: ReplyState
) -> Callable[[], str | None]:
    def repair() -> str | None:
        check.repair(reference, state)
        return "repaired"

    return repair
