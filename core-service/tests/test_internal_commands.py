"""Moderation commands of the feature service on core's rows, over signed internal calls:
POST /internal/v1/threads/{id}/delete and POST /internal/v1/users/{id}/lock. Each test checks
the answer, the rows, the audit log and the outbox."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_contracts import THREAD_DELETED, USER_LOCKED
from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.content.models import Thread
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.security.models import SecurityEvent
from tests.admins_helpers import iso_z, make_admin, make_session
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields
from tests.content_helpers import make_member, make_thread, user_token
from tests.internal_support import INTERNAL, accept_feature_keys, call

pytestmark = pytest.mark.django_db

VIA = "feature-service"


@pytest.fixture(autouse=True)
def _accept_feature_keys(settings: Any) -> None:
    accept_feature_keys(settings)


@pytest.fixture
def moderator() -> Any:
    return make_admin("desk_mod")


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _outbox(event_type: str) -> list[dict[str, Any]]:
    return [
        event.envelope["data"]
        for event in OutboxEvent.objects.filter(type=event_type).order_by("id")
    ]


def _audit(event_type: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(event_type=event_type).order_by("id"))


# --- POST /internal/v1/threads/{id}/delete ------------------------------------------------------


def _delete(client: Client, thread_id: int, body: Any) -> Any:
    return call(client, "POST", f"{INTERNAL}/threads/{thread_id}/delete", body)


def test_an_admin_on_the_desk_deletes_a_thread(client: Client, moderator: Any) -> None:
    author = make_member()
    thread = make_thread(author)

    answer = _ok(
        _delete(
            client, thread.pk, {"reason": "Spam", "actor": {"kind": "admin", "id": moderator.pk}}
        )
    )

    assert answer == {"thread_id": thread.pk, "deleted": True, "changed": True}
    stored = Thread.objects.get(pk=thread.pk)
    assert stored.is_deleted
    assert stored.deleted_at is not None
    [audit] = _audit("admin_thread_deleted")
    assert (audit.admin_id, audit.user_id) == (moderator.pk, author.pk)
    assert audit.details == {"thread_id": thread.pk, "reason": "Spam", "via": VIA}
    assert _outbox(THREAD_DELETED) == [
        {
            "thread_id": thread.pk,
            "author_id": author.pk,
            "reason": "Spam",
            "actor": {"kind": "admin", "id": moderator.pk},
        }
    ]


def test_an_automated_moderator_deletes_a_thread(client: Client) -> None:
    author = make_member()
    thread = make_thread(author)
    actor = {"kind": "service", "id": "auto-moderation"}

    answer = _ok(_delete(client, thread.pk, {"reason": "3 reports", "actor": actor}))

    assert answer["changed"] is True
    [audit] = _audit("admin_thread_deleted")
    assert (audit.admin_id, audit.user_id) == (None, author.pk)
    assert audit.details == {
        "thread_id": thread.pk,
        "reason": "3 reports",
        "actor": actor,
        "via": VIA,
    }
    [event] = _outbox(THREAD_DELETED)
    assert event["actor"] == actor


def test_deleting_a_deleted_thread_answers_the_same_and_changes_nothing(
    client: Client, moderator: Any
) -> None:
    thread = make_thread(make_member(), deleted=True)
    deleted_at = Thread.objects.get(pk=thread.pk).deleted_at
    body = {"reason": "Spam", "actor": {"kind": "admin", "id": moderator.pk}}

    answer = _ok(_delete(client, thread.pk, body))

    assert answer == {"thread_id": thread.pk, "deleted": True, "changed": False}
    assert Thread.objects.get(pk=thread.pk).deleted_at == deleted_at
    assert _audit("admin_thread_deleted") == []
    assert _outbox(THREAD_DELETED) == []


def test_a_retried_command_publishes_once(client: Client, moderator: Any) -> None:
    thread = make_thread(make_member())
    body = {"reason": "Spam", "actor": {"kind": "admin", "id": moderator.pk}}

    first = _ok(_delete(client, thread.pk, body))
    second = _ok(_delete(client, thread.pk, body))

    assert (first["changed"], second["changed"]) == (True, False)
    assert len(_outbox(THREAD_DELETED)) == 1
    assert len(_audit("admin_thread_deleted")) == 1


def test_an_unknown_thread_is_404(client: Client, moderator: Any) -> None:
    body = {"reason": "Spam", "actor": {"kind": "admin", "id": moderator.pk}}
    assert_problem(_delete(client, 424242, body), 404, "THREAD_NOT_FOUND")
    assert_problem(_delete(client, 2**70, body), 404, "THREAD_NOT_FOUND")
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize("deactivated", [False, True], ids=["missing admin", "deactivated admin"])
def test_an_admin_who_is_not_there_is_422(client: Client, deactivated: bool) -> None:
    admin_id = 987654
    if deactivated:
        admin_id = make_admin("gone_mod", is_active=False).pk
    thread = make_thread(make_member())

    response = _delete(
        client, thread.pk, {"reason": "x", "actor": {"kind": "admin", "id": admin_id}}
    )

    body = assert_problem(response, 422, "UNKNOWN_ACTOR")
    assert error_fields(body) == {"actor.id"}
    assert not Thread.objects.get(pk=thread.pk).is_deleted
    assert OutboxEvent.objects.count() == 0


_ADMIN = {"kind": "admin", "id": 1}


@pytest.mark.parametrize(
    ("body", "refusal", "fields"),
    [
        ({"actor": _ADMIN}, BAD_SHAPE, {"reason"}),
        ({"reason": "x"}, BAD_SHAPE, {"actor"}),
        ({"reason": "", "actor": _ADMIN}, BROKEN_RULE, {"reason"}),
        ({"reason": "   ", "actor": _ADMIN}, BROKEN_RULE, {"reason"}),
        ({"reason": "x" * 501, "actor": _ADMIN}, BROKEN_RULE, {"reason"}),
        ({"reason": 7, "actor": _ADMIN}, BAD_SHAPE, {"reason"}),
        ({"reason": "x", "actor": {"kind": "user", "id": 1}}, BROKEN_RULE, {"actor.kind"}),
        ({"reason": "x", "actor": {"kind": "admin"}}, BAD_SHAPE, {"actor.id"}),
        ({"reason": "x", "actor": {"kind": "admin", "id": "1"}}, BAD_SHAPE, {"actor.id"}),
        ({"reason": "x", "actor": {"kind": "admin", "id": True}}, BAD_SHAPE, {"actor.id"}),
        ({"reason": "x", "actor": {"kind": "admin", "id": 0}}, BROKEN_RULE, {"actor.id"}),
        ({"reason": "x", "actor": {"kind": "service", "id": 5}}, BAD_SHAPE, {"actor.id"}),
        (
            {"reason": "x", "actor": {"kind": "service", "id": "Bad Name"}},
            BROKEN_RULE,
            {"actor.id"},
        ),
        ({"reason": "x", "actor": {**_ADMIN, "name": "x"}}, BAD_SHAPE, {"actor.name"}),
        ({"reason": "x", "actor": _ADMIN, "hard": True}, BAD_SHAPE, {"hard"}),
        ([], BAD_SHAPE, {""}),
    ],
)
def test_bad_delete_commands_are_refused_and_change_nothing(
    client: Client, body: Any, refusal: tuple[int, str], fields: set[str]
) -> None:
    thread = make_thread(make_member())

    problem = assert_problem(_delete(client, thread.pk, body), *refusal)

    assert error_fields(problem) == fields
    assert not Thread.objects.get(pk=thread.pk).is_deleted
    assert OutboxEvent.objects.count() == 0


def test_an_unsigned_delete_is_401(client: Client, moderator: Any) -> None:
    author = make_member()
    thread = make_thread(author)
    body = {"reason": "Spam", "actor": {"kind": "admin", "id": moderator.pk}}

    unsigned = client.post(
        f"{INTERNAL}/threads/{thread.pk}/delete", body, content_type="application/json"
    )
    with_user_token = client.post(
        f"{INTERNAL}/threads/{thread.pk}/delete",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {user_token(author)}"},
    )

    for response in (unsigned, with_user_token):
        assert_problem(response, 401, "SIGNATURE_REJECTED")
    assert not Thread.objects.get(pk=thread.pk).is_deleted
    assert OutboxEvent.objects.count() == 0


# --- POST /internal/v1/users/{id}/lock ---------------------------------------------------------


def _lock(client: Client, user_id: int, body: Any) -> Any:
    return call(client, "POST", f"{INTERNAL}/users/{user_id}/lock", body)


def test_an_admin_on_the_desk_locks_a_user(client: Client, moderator: Any) -> None:
    user = make_member()
    sessions = [make_session(user), make_session(user)]
    until = timezone.now() + timedelta(days=7)

    answer = _ok(
        _lock(
            client,
            user.pk,
            {
                "reason": "Scam offers",
                "until": iso_z(until),
                "actor": {"kind": "admin", "id": moderator.pk},
            },
        )
    )

    assert answer == {
        "user_id": user.pk,
        "locked": True,
        "until": iso_z(until),
        "revoked_sessions": 2,
    }
    stored = User.objects.get(pk=user.pk)
    assert (stored.is_locked, stored.locked_reason, stored.locked_until) == (
        True,
        "Scam offers",
        until,
    )
    assert all(Session.objects.get(pk=s.pk).is_revoked for s in sessions)
    [audit] = _audit("admin_user_locked")
    assert (audit.admin_id, audit.user_id) == (moderator.pk, user.pk)
    assert audit.details == {
        "reason": "Scam offers",
        "until": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "revoked_sessions": 2,
        "via": VIA,
    }
    assert _outbox(USER_LOCKED) == [
        {
            "user_id": user.pk,
            "until": iso_z(until),
            "reason": "Scam offers",
            "actor": {"kind": "admin", "id": moderator.pk},
        }
    ]


def test_an_automated_moderator_locks_until_unlocked(client: Client) -> None:
    user = make_member()
    actor = {"kind": "service", "id": "auto-moderation"}

    answer = _ok(_lock(client, user.pk, {"reason": "Ban evasion", "until": None, "actor": actor}))

    assert answer == {"user_id": user.pk, "locked": True, "until": None, "revoked_sessions": 0}
    stored = User.objects.get(pk=user.pk)
    assert (stored.is_locked, stored.locked_until) == (True, None)
    [audit] = _audit("admin_user_locked")
    assert audit.admin_id is None
    assert audit.details["actor"] == actor
    assert audit.details["via"] == VIA
    [event] = _outbox(USER_LOCKED)
    assert (event["until"], event["actor"]) == (None, actor)


def test_locking_again_replaces_the_lock_and_publishes_it(client: Client, moderator: Any) -> None:
    user = make_member()
    actor = {"kind": "admin", "id": moderator.pk}
    _ok(_lock(client, user.pk, {"reason": "first", "until": None, "actor": actor}))

    later = timezone.now() + timedelta(hours=1)
    _ok(_lock(client, user.pk, {"reason": "second", "until": iso_z(later), "actor": actor}))

    stored = User.objects.get(pk=user.pk)
    assert (stored.locked_reason, stored.locked_until) == ("second", later)
    assert [event["reason"] for event in _outbox(USER_LOCKED)] == ["first", "second"]


def test_an_unknown_or_deleted_user_is_404(client: Client, moderator: Any) -> None:
    tombstone = make_member(deleted_at=timezone.now())
    body = {"reason": "x", "until": None, "actor": {"kind": "admin", "id": moderator.pk}}

    for user_id in (424242, tombstone.pk, 2**70):
        assert_problem(_lock(client, user_id, body), 404, "USER_NOT_FOUND")

    assert not User.objects.get(pk=tombstone.pk).is_locked
    assert OutboxEvent.objects.count() == 0
    assert _audit("admin_user_locked") == []


def test_an_unknown_admin_cannot_lock(client: Client) -> None:
    user = make_member()

    response = _lock(
        client, user.pk, {"reason": "x", "until": None, "actor": {"kind": "admin", "id": 4242}}
    )

    assert error_fields(assert_problem(response, 422, "UNKNOWN_ACTOR")) == {"actor.id"}
    assert not User.objects.get(pk=user.pk).is_locked
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "refusal", "fields"),
    [
        ({"until": "2001-01-01T00:00:00Z"}, BROKEN_RULE, {"until"}),
        ({"until": "2999-01-01T00:00:00"}, BAD_SHAPE, {"until"}),
        ({"until": "2999-13-01T00:00:00Z"}, BAD_SHAPE, {"until"}),
        ({"until": "next tuesday"}, BAD_SHAPE, {"until"}),
        ({"until": 4102444800}, BAD_SHAPE, {"until"}),
        ({"reason": ""}, BROKEN_RULE, {"reason"}),
        ({"reason": "x" * 501}, BROKEN_RULE, {"reason"}),
        ({"actor": {"kind": "user", "id": 3}}, BROKEN_RULE, {"actor.kind"}),
        ({"actor": None}, BAD_SHAPE, {"actor"}),
    ],
)
def test_bad_lock_commands_are_refused_and_change_nothing(
    client: Client,
    moderator: Any,
    changes: dict[str, Any],
    refusal: tuple[int, str],
    fields: set[str],
) -> None:
    user = make_member()
    session = make_session(user)
    body = {
        "reason": "x",
        "until": iso_z(timezone.now() + timedelta(days=1)),
        "actor": {"kind": "admin", "id": moderator.pk},
        **changes,
    }

    problem = assert_problem(_lock(client, user.pk, body), *refusal)

    assert error_fields(problem) == fields
    assert not User.objects.get(pk=user.pk).is_locked
    assert not Session.objects.get(pk=session.pk).is_revoked
    assert OutboxEvent.objects.count() == 0


@pytest.mark.parametrize("missing", ["reason", "until", "actor"])
def test_every_lock_field_is_required(client: Client, moderator: Any, missing: str) -> None:
    # `until` too: a command that forgot it must not lock for ever.
    user = make_member()
    body = {"reason": "x", "until": None, "actor": {"kind": "admin", "id": moderator.pk}}
    del body[missing]

    problem = assert_problem(_lock(client, user.pk, body), *BAD_SHAPE)

    assert error_fields(problem) == {missing}
    assert not User.objects.get(pk=user.pk).is_locked


def test_an_unsigned_lock_is_401(client: Client, moderator: Any) -> None:
    user = make_member()

    response = client.post(
        f"{INTERNAL}/users/{user.pk}/lock",
        {"reason": "x", "until": None, "actor": {"kind": "admin", "id": moderator.pk}},
        content_type="application/json",
    )

    assert_problem(response, 401, "SIGNATURE_REJECTED")
    assert not User.objects.get(pk=user.pk).is_locked
    assert OutboxEvent.objects.count() == 0
