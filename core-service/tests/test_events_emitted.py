"""Events core publishes (DESIGN section 7): each change writes exactly one outbox row in its own
transaction, a no-op writes none, and a failure after the change leaves neither the change nor
the event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from alephdraad_contracts import (
    THREAD_DELETED,
    THREAD_MOVED,
    THREAD_RESTORED,
    USER_LOCKED,
    USER_REGISTERED,
    USER_RENAMED,
    USER_UNLOCKED,
    validate_event,
)
from alephdraad_core.accounts.models import User
from alephdraad_core.accounts.services import do_register
from alephdraad_core.authn.models import Session
from alephdraad_core.content.models import Category, Thread
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.security.models import SecurityEvent
from tests.accounts_helpers import PASSWORD, make_user, patch_json, post_json, sign_in
from tests.admins_helpers import admin_token, iso_z, make_admin, make_session, next_ip
from tests.admins_helpers import make_user as make_plain_user
from tests.admins_helpers import post_json as admin_post
from tests.conftest import assert_problem
from tests.content_helpers import make_member, make_thread, send, user_token
from tests.test_accounts_username import with_sudo

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    # An injected failure is answered as a 500 problem, like any unexpected one.
    return Client(raise_request_exception=False)


class Boom(RuntimeError):
    """Raised on purpose inside a transaction, after the change it should roll back."""


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("injected failure")


def events(event_type: str | None = None) -> list[OutboxEvent]:
    rows = OutboxEvent.objects.order_by("id")
    if event_type is not None:
        rows = rows.filter(type=event_type)
    return list(rows)


def only_event(event_type: str) -> dict[str, Any]:
    """The data of the one event in the outbox, which must be of `event_type`."""
    [event] = events()
    assert event.type == event_type
    assert event.status == OutboxEvent.Status.PENDING
    assert event.envelope["producer"] == "core-service"
    validate_event(event.envelope)
    data: dict[str, Any] = event.envelope["data"]
    return data


# --- accounts ------------------------------------------------------------------------------------


def test_registration_publishes_user_registered_with_the_request_id(client: Client) -> None:
    response = post_json(
        client,
        "/api/v1/auth/register",
        {
            "email": "Lena@Example.com",
            "password": PASSWORD,
            "username": "lena_k",
            "full_name": "Lena K",
        },
        **{"X-Real-IP": next_ip()},
    )

    assert response.status_code == 201, response.content
    user = User.objects.get(username="lena_k")
    assert only_event(USER_REGISTERED) == {"user_id": user.pk, "username": "lena_k"}
    assert events()[0].request_id == response["X-Request-ID"]


def test_registering_a_taken_address_publishes_nothing(client: Client) -> None:
    make_user(email="lena@example.com", username="lena")
    response = post_json(
        client,
        "/api/v1/auth/register",
        {
            "email": "lena@example.com",
            "password": PASSWORD,
            "username": "other_lena",
            "full_name": "Lena K",
        },
        **{"X-Real-IP": next_ip()},
    )

    assert response.status_code == 201
    assert not User.objects.filter(username="other_lena").exists()
    assert events() == []


def test_a_failed_registration_leaves_no_user_and_no_event(monkeypatch: Any) -> None:
    # The verification mail is queued after the event, in the same transaction.
    monkeypatch.setattr("alephdraad_core.accounts.services.enqueue_mail", _boom)
    request = RequestFactory().post("/api/v1/auth/register", REMOTE_ADDR="127.0.0.1")

    with pytest.raises(Boom):
        do_register(
            email="lena@example.com",
            username="lena_k",
            full_name="Lena K",
            password=PASSWORD,
            request=request,
        )

    assert not User.objects.filter(username="lena_k").exists()
    assert events() == []


def test_a_rename_publishes_user_renamed(client: Client) -> None:
    mira = sign_in(make_user())

    response = patch_json(client, "/api/v1/me/username", {"username": "mira_c"}, **with_sudo(mira))

    assert response.status_code == 200, response.content
    assert only_event(USER_RENAMED) == {
        "user_id": mira.user.pk,
        "old_username": "mira",
        "username": "mira_c",
    }


def test_asking_for_the_current_name_publishes_nothing(client: Client) -> None:
    mira = sign_in(make_user())

    response = patch_json(client, "/api/v1/me/username", {"username": "mira"}, **with_sudo(mira))

    assert response.status_code == 200
    assert events() == []


def test_a_failed_rename_keeps_the_name_and_publishes_nothing(
    client: Client, monkeypatch: Any
) -> None:
    mira = sign_in(make_user())
    headers = with_sudo(mira)
    monkeypatch.setattr("alephdraad_core.accounts.services.record_security_event", _boom)

    failed = patch_json(client, "/api/v1/me/username", {"username": "mira_c"}, **headers)

    assert_problem(failed, 500, "INTERNAL_ERROR")

    stored = User.objects.get(pk=mira.user.pk)
    assert (stored.username, stored.username_changed_at) == ("mira", None)
    assert events() == []


# --- admins: lock and unlock ---------------------------------------------------------------------


@pytest.fixture
def admin() -> Any:
    return make_admin("event_ops")


def test_an_admin_lock_publishes_user_locked_with_the_admin(client: Client, admin: Any) -> None:
    user = make_plain_user("locked_lou")
    until = timezone.now() + timedelta(days=3)

    response = admin_post(
        client,
        f"/users/{user.pk}/lock",
        {"reason": "Spam wave", "until": iso_z(until)},
        token=admin_token(admin),
    )

    assert response.status_code == 200, response.content
    assert only_event(USER_LOCKED) == {
        "user_id": user.pk,
        "until": iso_z(until),
        "reason": "Spam wave",
        "actor": {"kind": "admin", "id": admin.pk},
    }


def test_a_lock_until_unlocked_publishes_a_null_until(client: Client, admin: Any) -> None:
    user = make_plain_user()

    admin_post(client, f"/users/{user.pk}/lock", {"reason": "x"}, token=admin_token(admin))

    assert only_event(USER_LOCKED)["until"] is None


def test_a_failed_lock_leaves_the_user_sessions_and_outbox_alone(
    client: Client, admin: Any, monkeypatch: Any
) -> None:
    user = make_plain_user()
    session = make_session(user)
    monkeypatch.setattr("alephdraad_core.admins.services.record_security_event", _boom)

    failed = admin_post(client, f"/users/{user.pk}/lock", {"reason": "x"}, token=admin_token(admin))

    assert_problem(failed, 500, "INTERNAL_ERROR")

    assert not User.objects.get(pk=user.pk).is_locked
    assert not Session.objects.get(pk=session.pk).is_revoked
    assert events() == []


def test_unlocking_a_locked_user_publishes_user_unlocked(client: Client, admin: Any) -> None:
    user = make_plain_user(is_locked=True, locked_reason="x")

    response = admin_post(client, f"/users/{user.pk}/unlock", token=admin_token(admin))

    assert response.status_code == 200, response.content
    assert only_event(USER_UNLOCKED) == {
        "user_id": user.pk,
        "actor": {"kind": "admin", "id": admin.pk},
    }


def test_unlocking_a_lapsed_lock_still_publishes(client: Client, admin: Any) -> None:
    # The flag was still set: the feature service's copy may still say locked.
    user = make_plain_user(is_locked=True, locked_until=timezone.now() - timedelta(minutes=1))

    admin_post(client, f"/users/{user.pk}/unlock", token=admin_token(admin))

    assert only_event(USER_UNLOCKED)["user_id"] == user.pk


def test_unlocking_an_unlocked_user_publishes_nothing(client: Client, admin: Any) -> None:
    user = make_plain_user()

    response = admin_post(client, f"/users/{user.pk}/unlock", token=admin_token(admin))

    assert response.status_code == 200
    assert events() == []
    # The admin's request is still on record.
    assert SecurityEvent.objects.filter(event_type="admin_user_unlocked").count() == 1


def test_a_failed_unlock_keeps_the_lock_and_publishes_nothing(
    client: Client, admin: Any, monkeypatch: Any
) -> None:
    user = make_plain_user(is_locked=True, locked_reason="x")
    monkeypatch.setattr("alephdraad_core.admins.services.record_security_event", _boom)

    failed = admin_post(client, f"/users/{user.pk}/unlock", token=admin_token(admin))

    assert_problem(failed, 500, "INTERNAL_ERROR")

    assert User.objects.get(pk=user.pk).is_locked
    assert events() == []


# --- content: delete, restore, move --------------------------------------------------------------


def test_an_authors_delete_publishes_thread_deleted_by_the_user(client: Client) -> None:
    author = make_member()
    thread = make_thread(author)

    response = send(client, "DELETE", f"/threads/{thread.pk}", token=user_token(author))

    assert response.status_code == 204
    assert only_event(THREAD_DELETED) == {
        "thread_id": thread.pk,
        "author_id": author.pk,
        "actor": {"kind": "user", "id": author.pk},
    }


def test_an_admin_delete_publishes_once_and_a_repeat_publishes_nothing(
    client: Client, admin: Any
) -> None:
    author = make_member()
    thread = make_thread(author)
    token = admin_token(admin)

    assert send(client, "DELETE", f"/threads/{thread.pk}", token=token).status_code == 204
    assert send(client, "DELETE", f"/threads/{thread.pk}", token=token).status_code == 204

    assert only_event(THREAD_DELETED) == {
        "thread_id": thread.pk,
        "author_id": author.pk,
        "actor": {"kind": "admin", "id": admin.pk},
    }


def test_a_failed_admin_delete_keeps_the_thread_live(
    client: Client, admin: Any, monkeypatch: Any
) -> None:
    thread = make_thread(make_member())
    monkeypatch.setattr("alephdraad_core.content.services.record_security_event", _boom)

    failed = send(client, "DELETE", f"/threads/{thread.pk}", token=admin_token(admin))

    assert_problem(failed, 500, "INTERNAL_ERROR")

    stored = Thread.objects.get(pk=thread.pk)
    assert (stored.is_deleted, stored.deleted_at) == (False, None)
    assert events() == []


def test_a_failed_event_write_keeps_an_authors_thread_live(
    client: Client, monkeypatch: Any
) -> None:
    author = make_member()
    thread = make_thread(author)
    monkeypatch.setattr("alephdraad_core.content.services.emit_thread_deleted", _boom)

    failed = send(client, "DELETE", f"/threads/{thread.pk}", token=user_token(author))

    assert_problem(failed, 500, "INTERNAL_ERROR")

    assert not Thread.objects.get(pk=thread.pk).is_deleted


def test_a_restore_publishes_thread_restored_and_a_live_one_nothing(
    client: Client, admin: Any
) -> None:
    author = make_member()
    deleted = make_thread(author, deleted=True)
    live = make_thread(author)
    token = admin_token(admin)

    assert send(client, "POST", f"/admin/threads/{live.pk}/restore", token=token).status_code == 200
    assert events() == []
    response = send(client, "POST", f"/admin/threads/{deleted.pk}/restore", token=token)

    assert response.status_code == 200, response.content
    assert only_event(THREAD_RESTORED) == {
        "thread_id": deleted.pk,
        "author_id": author.pk,
        "actor": {"kind": "admin", "id": admin.pk},
    }


def test_a_failed_restore_keeps_the_thread_deleted(
    client: Client, admin: Any, monkeypatch: Any
) -> None:
    thread = make_thread(make_member(), deleted=True)
    monkeypatch.setattr("alephdraad_core.content.services.record_security_event", _boom)

    failed = send(client, "POST", f"/admin/threads/{thread.pk}/restore", token=admin_token(admin))

    assert_problem(failed, 500, "INTERNAL_ERROR")

    assert Thread.objects.get(pk=thread.pk).is_deleted
    assert events() == []


def test_a_move_publishes_thread_moved_from_and_to(client: Client, admin: Any) -> None:
    author, heir = make_member(), make_member()
    thread = make_thread(author, category_slug="general")
    questions = Category.objects.get(slug="questions")

    response = send(
        client,
        "POST",
        f"/admin/threads/{thread.pk}/move",
        {"category_slug": "questions", "author_id": heir.pk, "reason": "Misfiled"},
        token=admin_token(admin),
    )

    assert response.status_code == 200, response.content
    assert only_event(THREAD_MOVED) == {
        "thread_id": thread.pk,
        "from_category_id": thread.category_id,
        "to_category_id": questions.pk,
        "from_author_id": author.pk,
        "to_author_id": heir.pk,
        "actor": {"kind": "admin", "id": admin.pk},
    }


def test_a_move_to_where_it_already_is_publishes_nothing(client: Client, admin: Any) -> None:
    author = make_member()
    thread = make_thread(author, category_slug="general")

    response = send(
        client,
        "POST",
        f"/admin/threads/{thread.pk}/move",
        {"category_slug": "general", "author_id": author.pk, "reason": "Double-check"},
        token=admin_token(admin),
    )

    assert response.status_code == 200, response.content
    assert events() == []
    assert SecurityEvent.objects.filter(event_type="admin_thread_moved").count() == 1


def test_a_failed_move_leaves_the_thread_where_it_was(
    client: Client, admin: Any, monkeypatch: Any
) -> None:
    author = make_member()
    thread = make_thread(author, category_slug="general")
    monkeypatch.setattr("alephdraad_core.content.services.record_security_event", _boom)

    failed = send(
        client,
        "POST",
        f"/admin/threads/{thread.pk}/move",
        {"category_slug": "questions", "reason": "Misfiled"},
        token=admin_token(admin),
    )

    assert_problem(failed, 500, "INTERNAL_ERROR")

    assert Thread.objects.get(pk=thread.pk).category.slug == "general"
    assert events() == []
