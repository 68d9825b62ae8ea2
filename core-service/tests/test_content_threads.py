"""Threads: create, read, edit, delete (author or admin), restore and move (admin), and who may
do what. Every test checks the answer and the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.content.models import Thread
from alephdraad_core.security.models import SecurityEvent
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields
from tests.content_helpers import (
    admin_token,
    body_of,
    doc,
    get,
    make_admin,
    make_member,
    make_thread,
    paragraph,
    send,
    text,
    user_token,
)

pytestmark = pytest.mark.django_db


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def author() -> Any:
    return make_member("nadia")


@pytest.fixture
def author_token(author: Any) -> str:
    return user_token(author)


@pytest.fixture
def admin() -> Any:
    return make_admin("thread_ops")


@pytest.fixture
def staff_token(admin: Any) -> str:
    return admin_token(admin)


def _create(client: Client, token: str | None, **overrides: Any) -> Any:
    payload: dict[str, Any] = {
        "category_slug": "programming",
        "title": "Rust or Go for a CLI?",
        "summary": "Looking for opinions.",
        "content_json": doc("Which one would you pick, and why?"),
    }
    payload.update(overrides)
    return send(client, "POST", "/threads", payload, token=token)


# --- create ----------------------------------------------------------------------------------


def test_a_member_creates_a_thread(client: Client, author: Any, author_token: str) -> None:
    badge = Badge.objects.create(name="Helper", color="#00aa00", rarity="rare")
    UserBadge.objects.create(user=author, badge=badge, is_primary=True)

    response = _create(client, author_token)

    assert response.status_code == 201, response.content
    body = body_of(response)
    thread = Thread.objects.get()
    assert body == {
        "id": thread.pk,
        "title": "Rust or Go for a CLI?",
        "summary": "Looking for opinions.",
        "content_json": doc("Which one would you pick, and why?"),
        "category": {"slug": "programming", "name": "Programming"},
        "author": {
            "id": author.pk,
            "username": "nadia",
            "avatar_url": None,
            "primary_badge": {
                "id": badge.pk,
                "name": "Helper",
                "icon_url": "",
                "color": "#00aa00",
                "rarity": "rare",
            },
        },
        "created_at": _iso(thread.created_at),
        "updated_at": _iso(thread.updated_at),
        "accepted_reply_id": None,
        "accepted_at": None,
        "deleted_at": None,
    }
    assert body["created_at"].endswith("Z")
    assert (thread.author_id, thread.category.slug) == (author.pk, "programming")
    assert thread.content_text == "Which one would you pick, and why?"
    assert thread.search_vector is not None
    assert not thread.is_deleted


def test_without_a_summary_the_start_of_the_text_is_used(client: Client, author_token: str) -> None:
    words = " ".join(f"word{n}" for n in range(100))
    response = _create(client, author_token, summary="", content_json=doc(words))

    assert response.status_code == 201
    summary = body_of(response)["summary"]
    assert summary.startswith("word0 word1 word2")
    assert summary.endswith("…")
    assert len(summary) <= 280
    assert Thread.objects.get().summary == summary

    no_summary = {"category_slug": "general", "title": "Tiny", "content_json": doc("Hi all")}
    response = send(client, "POST", "/threads", no_summary, token=author_token)
    assert body_of(response)["summary"] == "Hi all"


def test_an_unknown_category_slug_is_a_422_field_error(client: Client, author_token: str) -> None:
    body = assert_problem(
        _create(client, author_token, category_slug="nowhere"), 422, "UNKNOWN_CATEGORY"
    )
    assert error_fields(body) == {"category_slug"}
    assert not Thread.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "expected", "fields"),
    [
        ({"title": "T" * 201}, BROKEN_RULE, {"title"}),
        ({"title": "ab"}, BROKEN_RULE, {"title"}),
        ({"title": "   "}, BROKEN_RULE, {"title"}),
        ({"summary": "S" * 501}, BROKEN_RULE, {"summary"}),
        ({"title": 42}, BAD_SHAPE, {"title"}),
        ({"tags": ["x"]}, BAD_SHAPE, {"tags"}),
    ],
)
def test_bad_thread_fields(
    client: Client, author_token: str, overrides: dict[str, Any], expected: Any, fields: set[str]
) -> None:
    body = assert_problem(_create(client, author_token, **overrides), *expected)
    assert error_fields(body) == fields
    assert not Thread.objects.exists()


def test_a_title_of_200_characters_is_fine(client: Client, author_token: str) -> None:
    response = _create(client, author_token, title="T" * 200)
    assert response.status_code == 201
    assert Thread.objects.get().title == "T" * 200


def test_only_members_post_threads(client: Client, staff_token: str) -> None:
    assert_problem(_create(client, None), 401, "UNAUTHENTICATED")
    assert_problem(_create(client, staff_token), 403, "FORBIDDEN")
    assert not Thread.objects.exists()


def test_an_unverified_account_cannot_post(client: Client) -> None:
    # Unverified accounts cannot sign in; a token that somehow exists is still refused.
    token = user_token(make_member("fresh", verified=False))

    assert_problem(_create(client, token), 403, "AUTH_EMAIL_UNVERIFIED")
    assert not Thread.objects.exists()


# --- read ------------------------------------------------------------------------------------


def test_anyone_reads_a_live_thread(client: Client, author: Any) -> None:
    thread = make_thread(author, title="Hello there")

    response = get(client, f"/threads/{thread.pk}")

    assert response.status_code == 200
    body = body_of(response)
    assert (body["id"], body["title"], body["author"]["primary_badge"]) == (
        thread.pk,
        "Hello there",
        None,
    )
    assert body["content_json"] == thread.content_json


def test_a_deleted_thread_is_404_to_members_and_anonymous_but_visible_to_admins(
    client: Client, author: Any, author_token: str, staff_token: str
) -> None:
    thread = make_thread(author, deleted=True)

    assert_problem(get(client, f"/threads/{thread.pk}"), 404, "THREAD_NOT_FOUND")
    assert_problem(
        get(client, f"/threads/{thread.pk}", token=author_token), 404, "THREAD_NOT_FOUND"
    )
    response = get(client, f"/threads/{thread.pk}", token=staff_token)
    assert response.status_code == 200
    assert body_of(response)["deleted_at"] == _iso(thread.deleted_at)


def test_an_unknown_thread_is_404(client: Client) -> None:
    assert_problem(get(client, "/threads/999999"), 404, "THREAD_NOT_FOUND")
    assert_problem(get(client, "/threads/99999999999999999999"), 404, "THREAD_NOT_FOUND")


# --- edit ------------------------------------------------------------------------------------


def test_the_author_edits_their_thread(client: Client, author: Any, author_token: str) -> None:
    thread = make_thread(author, title="Old title", body="old body", summary="Kept summary")
    new_content = doc(paragraph(text("new "), text("body", {"type": "bold"})))

    response = send(
        client,
        "PATCH",
        f"/threads/{thread.pk}",
        {"title": "New title", "content_json": new_content},
        token=author_token,
    )

    assert response.status_code == 200, response.content
    body = body_of(response)
    assert (body["title"], body["summary"], body["content_json"]) == (
        "New title",
        "Kept summary",
        new_content,
    )
    stored = Thread.objects.get(pk=thread.pk)
    assert (stored.title, stored.content_text, stored.summary) == (
        "New title",
        "new body",
        "Kept summary",
    )
    assert stored.updated_at > thread.updated_at
    assert body["updated_at"] == _iso(stored.updated_at)


def test_a_derived_summary_follows_the_new_text_and_empty_asks_for_one(
    client: Client, author: Any, author_token: str
) -> None:
    thread = make_thread(author, body="first version")
    assert thread.summary == "first version"

    send(
        client,
        "PATCH",
        f"/threads/{thread.pk}",
        {"content_json": doc("second")},
        token=author_token,
    )
    assert Thread.objects.get(pk=thread.pk).summary == "second"

    send(client, "PATCH", f"/threads/{thread.pk}", {"summary": "Mine"}, token=author_token)
    send(
        client, "PATCH", f"/threads/{thread.pk}", {"content_json": doc("third")}, token=author_token
    )
    assert Thread.objects.get(pk=thread.pk).summary == "Mine"

    send(client, "PATCH", f"/threads/{thread.pk}", {"summary": ""}, token=author_token)
    assert Thread.objects.get(pk=thread.pk).summary == "third"


def test_someone_elses_thread_is_404_on_patch_and_delete(client: Client, author: Any) -> None:
    thread = make_thread(author, title="Mine alone")
    stranger_token = user_token(make_member("stranger"))

    assert_problem(
        send(client, "PATCH", f"/threads/{thread.pk}", {"title": "Hijacked"}, token=stranger_token),
        404,
        "THREAD_NOT_FOUND",
    )
    assert_problem(
        send(client, "DELETE", f"/threads/{thread.pk}", token=stranger_token),
        404,
        "THREAD_NOT_FOUND",
    )
    stored = Thread.objects.get(pk=thread.pk)
    assert (stored.title, stored.is_deleted) == ("Mine alone", False)


def test_edits_are_validated_like_creation(client: Client, author: Any, author_token: str) -> None:
    thread = make_thread(author, title="Stays")
    path = f"/threads/{thread.pk}"

    assert_problem(
        send(client, "PATCH", path, {"title": "T" * 201}, token=author_token), *BROKEN_RULE
    )
    bad = doc(paragraph(text("x", {"type": "link", "attrs": {"href": "javascript:x"}})))
    body = assert_problem(
        send(client, "PATCH", path, {"content_json": bad}, token=author_token),
        422,
        "CONTENT_INVALID",
    )
    assert error_fields(body) == {"content_json.content.0.content.0.marks.0.attrs.href"}
    assert_problem(
        send(client, "PATCH", path, {"category_slug": "x"}, token=author_token), *BAD_SHAPE
    )
    assert Thread.objects.get(pk=thread.pk).title == "Stays"


def test_an_admin_token_cannot_edit_and_a_deleted_thread_cannot_be_edited(
    client: Client, author: Any, author_token: str, staff_token: str
) -> None:
    live = make_thread(author, title="Live")
    gone = make_thread(author, title="Gone", deleted=True)

    assert_problem(
        send(client, "PATCH", f"/threads/{live.pk}", {"title": "Admin"}, token=staff_token),
        403,
        "FORBIDDEN",
    )
    assert_problem(
        send(client, "PATCH", f"/threads/{gone.pk}", {"title": "Back"}, token=author_token),
        404,
        "THREAD_NOT_FOUND",
    )
    assert set(Thread.objects.values_list("title", flat=True)) == {"Live", "Gone"}


# --- delete and restore ----------------------------------------------------------------------


def test_the_author_soft_deletes_their_thread(
    client: Client, author: Any, author_token: str
) -> None:
    thread = make_thread(author)

    response = send(client, "DELETE", f"/threads/{thread.pk}", token=author_token)

    assert response.status_code == 204
    stored = Thread.objects.get(pk=thread.pk)
    assert stored.is_deleted
    assert stored.deleted_at is not None
    assert not SecurityEvent.objects.filter(event_type="admin_thread_deleted").exists()
    assert_problem(
        send(client, "DELETE", f"/threads/{thread.pk}", token=author_token),
        404,
        "THREAD_NOT_FOUND",
    )


def test_an_admin_deletes_any_thread_and_restores_it(
    client: Client, author: Any, admin: Any, staff_token: str
) -> None:
    thread = make_thread(author)

    response = send(client, "DELETE", f"/threads/{thread.pk}", token=staff_token)

    assert response.status_code == 204
    assert Thread.objects.get(pk=thread.pk).is_deleted
    deleted = SecurityEvent.objects.get(event_type="admin_thread_deleted")
    assert (deleted.admin_id, deleted.user_id, deleted.details) == (
        admin.pk,
        author.pk,
        {"thread_id": thread.pk},
    )
    # Again: nothing changes, nothing more is recorded.
    assert send(client, "DELETE", f"/threads/{thread.pk}", token=staff_token).status_code == 204
    assert SecurityEvent.objects.filter(event_type="admin_thread_deleted").count() == 1

    response = send(client, "POST", f"/admin/threads/{thread.pk}/restore", token=staff_token)

    assert response.status_code == 200, response.content
    assert body_of(response)["deleted_at"] is None
    stored = Thread.objects.get(pk=thread.pk)
    assert (stored.is_deleted, stored.deleted_at) == (False, None)
    restored = SecurityEvent.objects.get(event_type="admin_thread_restored")
    assert (restored.admin_id, restored.details) == (admin.pk, {"thread_id": thread.pk})
    assert get(client, f"/threads/{thread.pk}").status_code == 200


def test_delete_needs_a_token(client: Client, author: Any) -> None:
    thread = make_thread(author)
    assert_problem(send(client, "DELETE", f"/threads/{thread.pk}"), 401, "UNAUTHENTICATED")
    assert not Thread.objects.get(pk=thread.pk).is_deleted


def test_user_tokens_are_401_on_admin_thread_routes(
    client: Client, author: Any, author_token: str
) -> None:
    thread = make_thread(author, deleted=True)

    assert_problem(
        send(client, "POST", f"/admin/threads/{thread.pk}/restore", token=author_token),
        401,
        "AUTH_TOKEN_INVALID",
    )
    assert_problem(
        send(
            client,
            "POST",
            f"/admin/threads/{thread.pk}/move",
            {"category_slug": "general", "reason": "x"},
            token=author_token,
        ),
        401,
        "AUTH_TOKEN_INVALID",
    )
    stored = Thread.objects.get(pk=thread.pk)
    assert stored.is_deleted
    assert stored.category.slug == "general"


def test_restoring_an_unknown_thread_is_404(client: Client, staff_token: str) -> None:
    assert_problem(
        send(client, "POST", "/admin/threads/424242/restore", token=staff_token),
        404,
        "THREAD_NOT_FOUND",
    )


# --- move ------------------------------------------------------------------------------------


def test_an_admin_moves_a_thread_to_another_category_and_author(
    client: Client, author: Any, admin: Any, staff_token: str
) -> None:
    thread = make_thread(author, category_slug="general")
    heir = make_member("heir")

    response = send(
        client,
        "POST",
        f"/admin/threads/{thread.pk}/move",
        {"category_slug": "questions", "author_id": heir.pk, "reason": "Misfiled; asked by heir"},
        token=staff_token,
    )

    assert response.status_code == 200, response.content
    body = body_of(response)
    assert body["category"] == {"slug": "questions", "name": "Questions & Help"}
    assert body["author"]["username"] == "heir"
    stored = Thread.objects.get(pk=thread.pk)
    assert (stored.category.slug, stored.author_id) == ("questions", heir.pk)
    assert stored.updated_at == thread.updated_at
    event = SecurityEvent.objects.get(event_type="admin_thread_moved")
    assert (event.admin_id, event.user_id) == (admin.pk, author.pk)
    assert event.details == {
        "thread_id": thread.pk,
        "reason": "Misfiled; asked by heir",
        "category_id": {"from": thread.category_id, "to": stored.category_id},
        "author_id": {"from": author.pk, "to": heir.pk},
    }


@pytest.mark.parametrize(
    ("payload", "status", "code", "fields"),
    [
        ({"reason": "nothing to do"}, 422, "UNPROCESSABLE_CONTENT", {""}),
        ({"category_slug": "general"}, 400, "VALIDATION_FAILED", {"reason"}),
        ({"category_slug": "general", "reason": ""}, 422, "UNPROCESSABLE_CONTENT", {"reason"}),
        ({"category_slug": "atlantis", "reason": "x"}, 422, "UNKNOWN_CATEGORY", {"category_slug"}),
        ({"author_id": 987654, "reason": "x"}, 422, "UNKNOWN_AUTHOR", {"author_id"}),
        ({"author_id": "7", "reason": "x"}, 400, "VALIDATION_FAILED", {"author_id"}),
    ],
)
def test_bad_moves(
    client: Client,
    author: Any,
    staff_token: str,
    payload: dict[str, Any],
    status: int,
    code: str,
    fields: set[str],
) -> None:
    thread = make_thread(author, category_slug="careers")

    response = send(client, "POST", f"/admin/threads/{thread.pk}/move", payload, token=staff_token)

    body = assert_problem(response, status, code)
    assert error_fields(body) == fields
    stored = Thread.objects.get(pk=thread.pk)
    assert (stored.category.slug, stored.author_id) == ("careers", author.pk)
    assert not SecurityEvent.objects.filter(event_type="admin_thread_moved").exists()
