"""Public profiles: GET /users/{username} and GET /users/{username}/threads."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.content.models import Thread
from alephdraad_core.profiles.schemas import (
    ProfileBadgeSerializer,
    ProfileThreadCategorySerializer,
    ProfileThreadSerializer,
    PublicProfileSerializer,
)
from tests.admins_helpers import iso_z, make_user
from tests.badges_support import award, make_badge, make_category, make_thread
from tests.conftest import BAD_SHAPE, assert_problem, error_fields

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ICON = "https://cdn.example.com/badges/owl.svg"
# What a public view must never say about a user.
PRIVATE = {
    "email",
    "password",
    "password_hash",
    "sessions",
    "is_locked",
    "locked_reason",
    "locked_until",
    "is_verified",
    "totp_enabled",
    "totp_secret",
    "username_changed_at",
    "updated_at",
    "id",
}


def profile_url(username: str) -> str:
    return f"/api/v1/users/{username}"


def threads_url(username: str) -> str:
    return f"/api/v1/users/{username}/threads"


def test_each_public_serializer_has_exactly_these_fields() -> None:
    profile = set(PublicProfileSerializer().fields)
    assert profile == {
        "username",
        "full_name",
        "avatar_url",
        "primary_badge",
        "badges",
        "joined_at",
        "thread_count",
    }
    assert set(ProfileBadgeSerializer().fields) == {
        "id",
        "name",
        "icon_url",
        "color",
        "rarity",
        "awarded_at",
    }
    assert set(ProfileThreadSerializer().fields) == {
        "id",
        "title",
        "summary",
        "category",
        "created_at",
        "updated_at",
    }
    assert set(ProfileThreadCategorySerializer().fields) == {"slug", "name"}
    assert not profile & PRIVATE


# GET /users/{username}


@pytest.mark.django_db
def test_profile_shows_public_fields_badges_and_live_thread_count(
    client: Client, django_assert_num_queries: Any
) -> None:
    user = make_user(
        "quiet_owl",
        email="owl@private.example.com",
        full_name="Quiet Owl",
        avatar_url="https://cdn.example.com/a/owl.png",
        created_at=T0,
        totp_enabled=True,
    )
    wise = make_badge("Wise", icon_url=ICON, color="#334455", rarity="epic")
    early = make_badge("Early")
    award(user, early, awarded_at=T0 + timedelta(days=1))
    award(user, wise, primary=True, awarded_at=T0 + timedelta(days=2))
    award(make_user(), make_badge("Not theirs"))
    category = make_category()
    for _ in range(3):
        make_thread(user, category)
    make_thread(user, category, deleted=True)
    make_thread(make_user(), category)

    with django_assert_num_queries(2):  # the user with the thread count, the badges
        response = client.get(profile_url("quiet_owl"))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "username": "quiet_owl",
        "full_name": "Quiet Owl",
        "avatar_url": "https://cdn.example.com/a/owl.png",
        "primary_badge": {
            "id": wise.pk,
            "name": "Wise",
            "icon_url": ICON,
            "color": "#334455",
            "rarity": "epic",
        },
        "badges": [
            {
                "id": wise.pk,
                "name": "Wise",
                "icon_url": ICON,
                "color": "#334455",
                "rarity": "epic",
                "awarded_at": iso_z(T0 + timedelta(days=2)),
            },
            {
                "id": early.pk,
                "name": "Early",
                "icon_url": "",
                "color": "",
                "rarity": "common",
                "awarded_at": iso_z(T0 + timedelta(days=1)),
            },
        ],
        "joined_at": iso_z(T0),
        "thread_count": 3,
    }
    assert b"private.example.com" not in response.content


@pytest.mark.django_db
def test_a_profile_without_badges_or_threads(client: Client) -> None:
    make_user("fresh_user")

    response = client.get(profile_url("fresh_user"))

    assert response.status_code == 200
    body = response.json()
    assert (body["primary_badge"], body["badges"], body["thread_count"]) == (None, [], 0)
    assert body["avatar_url"] is None


@pytest.mark.django_db
def test_a_locked_user_keeps_a_public_profile_that_does_not_say_so(client: Client) -> None:
    make_user("locked_out", is_locked=True, locked_reason="spam")

    response = client.get(profile_url("locked_out"))

    assert response.status_code == 200
    assert not set(response.json()) & PRIVATE
    assert b"spam" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["nobody_here", "Quiet_Owl", "x", "a" * 31, "me%20too"])
def test_unknown_usernames_are_404(
    client: Client, username: str, django_assert_max_num_queries: Any
) -> None:
    make_user("quiet_owl")

    with django_assert_max_num_queries(1):
        response = client.get(profile_url(username))

    assert_problem(response, 404, "USER_NOT_FOUND")


# GET /users/{username}/threads


@pytest.mark.django_db
def test_threads_newest_first_without_deleted_ones_or_other_authors(
    client: Client, django_assert_num_queries: Any
) -> None:
    user = make_user("writer")
    category = make_category("rust", "Rust")
    old = make_thread(user, category, title="Old", created_at=T0)
    make_thread(user, category, title="Gone", created_at=T0 + timedelta(hours=1), deleted=True)
    new = make_thread(user, category, title="New", created_at=T0 + timedelta(hours=2))
    make_thread(make_user(), category, title="Someone else's")

    with django_assert_num_queries(2):  # the user, the page with its categories
        response = client.get(threads_url("writer"))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "items": [
            {
                "id": thread.pk,
                "title": thread.title,
                "summary": "A summary",
                "category": {"slug": "rust", "name": "Rust"},
                "created_at": iso_z(thread.created_at),
                "updated_at": iso_z(thread.updated_at),
            }
            for thread in (new, old)
        ],
        "next_cursor": None,
    }


@pytest.mark.django_db
def test_threads_come_in_cursor_pages(client: Client, django_assert_num_queries: Any) -> None:
    user = make_user("prolific")
    categories = [make_category() for _ in range(3)]
    # Two threads share a created_at: the id breaks the tie, so none is skipped or repeated.
    moments = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    threads = [
        make_thread(user, categories[i % 3], created_at=moment) for i, moment in enumerate(moments)
    ]
    threads.append(make_thread(user, categories[0], created_at=T0 + timedelta(minutes=3)))
    expected = sorted(threads, key=lambda t: (t.created_at, t.pk), reverse=True)

    seen: list[int] = []
    cursor = ""
    pages = 0
    while True:
        with django_assert_num_queries(2):
            response = client.get(threads_url("prolific"), {"limit": 2, "cursor": cursor})
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]

    assert pages == 3
    assert seen == [thread.pk for thread in expected]


@pytest.mark.django_db
def test_a_tampered_cursor_is_400(client: Client) -> None:
    user = make_user("writer")
    category = make_category()
    for minute in range(3):
        make_thread(user, category, created_at=T0 + timedelta(minutes=minute))
    cursor = client.get(threads_url("writer"), {"limit": 1}).json()["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["i"] += 1
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    for bad in (forged, cursor[:-3], "not-a-cursor", "%%%"):
        response = client.get(threads_url("writer"), {"cursor": bad})
        body = assert_problem(response, *BAD_SHAPE)
        assert error_fields(body) == {"cursor"}


@pytest.mark.django_db
def test_one_profiles_cursor_is_refused_on_another(client: Client) -> None:
    category = make_category()
    for name in ("first_writer", "second_writer"):
        author = make_user(name)
        for minute in range(2):
            make_thread(author, category, created_at=T0 + timedelta(minutes=minute))
    cursor = client.get(threads_url("first_writer"), {"limit": 1}).json()["next_cursor"]

    response = client.get(threads_url("second_writer"), {"limit": 1, "cursor": cursor})

    assert error_fields(assert_problem(response, *BAD_SHAPE)) == {"cursor"}


@pytest.mark.django_db
def test_thread_list_refuses_unknown_users_and_parameters(client: Client) -> None:
    make_user("writer")

    assert_problem(client.get(threads_url("nobody_here")), 404, "USER_NOT_FOUND")
    unknown = client.get(threads_url("writer"), {"author": "x"})
    assert error_fields(assert_problem(unknown, *BAD_SHAPE)) == {"author"}
    assert_problem(client.get(threads_url("writer"), {"limit": 0}), 422, "UNPROCESSABLE_CONTENT")


@pytest.mark.django_db
def test_a_deleted_thread_no_longer_counts_or_lists(client: Client) -> None:
    user = make_user("writer")
    thread = make_thread(user, make_category())
    assert client.get(profile_url("writer")).json()["thread_count"] == 1

    Thread.objects.filter(pk=thread.pk).update(is_deleted=True)

    assert client.get(profile_url("writer")).json()["thread_count"] == 0
    assert client.get(threads_url("writer")).json()["items"] == []
