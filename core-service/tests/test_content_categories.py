"""Categories: the default set, public reads, admin create/update/delete and their audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from alephdraad_core.content.models import Category, Thread
from alephdraad_core.security.models import SecurityEvent
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields
from tests.content_helpers import (
    admin_token,
    body_of,
    get,
    make_admin,
    make_member,
    make_thread,
    send,
    user_token,
)

pytestmark = pytest.mark.django_db

DEFAULT_SLUGS = [
    "general",
    "announcements",
    "questions",
    "programming",
    "careers",
    "showcase",
    "off-topic",
]


@pytest.fixture
def admin() -> Any:
    return make_admin("content_ops")


@pytest.fixture
def token(admin: Any) -> str:
    return admin_token(admin)


def test_default_categories_exist_after_migrate() -> None:
    assert list(Category.objects.order_by("order_index", "id").values_list("slug", flat=True)) == (
        DEFAULT_SLUGS
    )


def test_anyone_lists_categories_in_display_order(client: Client) -> None:
    Category.objects.create(slug="first", name="First", order_index=-5)

    response = get(client, "/categories")

    assert response.status_code == 200
    items = body_of(response)["items"]
    assert [item["slug"] for item in items] == ["first", *DEFAULT_SLUGS]
    general = items[1]
    assert set(general) == {"id", "slug", "name", "description", "color", "icon", "order_index"}
    assert general["name"] == "General"
    assert general["color"] == "#64748b"


def test_a_category_by_slug_and_an_unknown_slug(client: Client) -> None:
    response = get(client, "/categories/programming")
    assert response.status_code == 200
    assert body_of(response)["name"] == "Programming"

    assert_problem(get(client, "/categories/no-such-thing"), 404, "CATEGORY_NOT_FOUND")


def test_a_refused_token_on_a_public_read_is_401_not_anonymous(client: Client) -> None:
    assert_problem(get(client, "/categories", token="not.a.token"), 401, "AUTH_TOKEN_INVALID")


def test_admin_creates_a_category_last_in_order_and_it_is_recorded(
    client: Client, admin: Any, token: str
) -> None:
    response = send(
        client,
        "POST",
        "/admin/categories",
        {"name": "Hardware", "slug": "hardware", "color": "#AABBCC", "icon": "cpu"},
        token=token,
    )

    assert response.status_code == 201, response.content
    created = body_of(response)
    stored = Category.objects.get(slug="hardware")
    assert created == {
        "id": stored.pk,
        "slug": "hardware",
        "name": "Hardware",
        "description": "",
        "color": "#aabbcc",
        "icon": "cpu",
        "order_index": 70,  # after the defaults' 0, 10, … 60
    }
    event = SecurityEvent.objects.get(event_type="admin_category_created")
    assert event.admin_id == admin.pk
    assert event.details == {"category_id": stored.pk, "slug": "hardware"}


def test_creating_a_taken_slug_is_409(client: Client, token: str) -> None:
    response = send(
        client, "POST", "/admin/categories", {"name": "Again", "slug": "general"}, token=token
    )

    body = assert_problem(response, 409, "CATEGORY_SLUG_TAKEN")
    assert error_fields(body) == {"slug"}
    assert Category.objects.get(slug="general").name == "General"


@pytest.mark.parametrize(
    ("payload", "expected", "fields"),
    [
        ({"name": "X"}, BAD_SHAPE, {"slug"}),
        ({"name": "X", "slug": "Not A Slug"}, BAD_SHAPE, {"slug"}),
        ({"name": "X", "slug": "x", "color": "red"}, BAD_SHAPE, {"color"}),
        ({"name": "X", "slug": "x", "order_index": "3"}, BAD_SHAPE, {"order_index"}),
        ({"name": "X", "slug": "x", "extra": 1}, BAD_SHAPE, {"extra"}),
        ({"name": "N" * 101, "slug": "x"}, BROKEN_RULE, {"name"}),
        ({"name": "", "slug": "x"}, BROKEN_RULE, {"name"}),
    ],
)
def test_bad_category_bodies(
    client: Client, token: str, payload: dict[str, Any], expected: Any, fields: set[str]
) -> None:
    body = assert_problem(
        send(client, "POST", "/admin/categories", payload, token=token), *expected
    )
    assert error_fields(body) == fields
    assert Category.objects.count() == len(DEFAULT_SLUGS)


def test_user_token_and_no_token_on_admin_category_routes_are_401(client: Client) -> None:
    member_token = user_token(make_member())
    payload = {"name": "Sneaky", "slug": "sneaky"}

    assert_problem(
        send(client, "POST", "/admin/categories", payload, token=member_token),
        401,
        "AUTH_TOKEN_INVALID",
    )
    assert_problem(send(client, "POST", "/admin/categories", payload), 401, "UNAUTHENTICATED")
    assert_problem(
        send(client, "DELETE", "/admin/categories/general", token=member_token),
        401,
        "AUTH_TOKEN_INVALID",
    )
    assert not Category.objects.filter(slug="sneaky").exists()
    assert Category.objects.filter(slug="general").exists()


def test_admin_updates_a_category_including_its_slug(
    client: Client, admin: Any, token: str
) -> None:
    response = send(
        client,
        "PATCH",
        "/admin/categories/careers",
        {"slug": "jobs", "name": "Jobs", "order_index": 5},
        token=token,
    )

    assert response.status_code == 200, response.content
    assert body_of(response)["slug"] == "jobs"
    stored = Category.objects.get(slug="jobs")
    assert (stored.name, stored.order_index) == ("Jobs", 5)
    assert not Category.objects.filter(slug="careers").exists()
    event = SecurityEvent.objects.get(event_type="admin_category_updated")
    assert event.admin_id == admin.pk
    assert event.details["changes"] == {
        "slug": {"from": "careers", "to": "jobs"},
        "name": {"from": "Careers", "to": "Jobs"},
        "order_index": {"from": 40, "to": 5},
    }


def test_updating_to_a_taken_slug_is_409_and_an_unknown_category_404(
    client: Client, token: str
) -> None:
    assert_problem(
        send(client, "PATCH", "/admin/categories/careers", {"slug": "general"}, token=token),
        409,
        "CATEGORY_SLUG_TAKEN",
    )
    assert_problem(
        send(client, "PATCH", "/admin/categories/nope", {"name": "x"}, token=token),
        404,
        "CATEGORY_NOT_FOUND",
    )
    assert Category.objects.filter(slug="careers").exists()


def test_admin_deletes_an_unused_category(client: Client, admin: Any, token: str) -> None:
    response = send(client, "DELETE", "/admin/categories/showcase", token=token)

    assert response.status_code == 204
    assert response.content == b""
    assert not Category.objects.filter(slug="showcase").exists()
    event = SecurityEvent.objects.get(event_type="admin_category_deleted")
    assert (event.admin_id, event.details["slug"]) == (admin.pk, "showcase")
    assert_problem(
        send(client, "DELETE", "/admin/categories/showcase", token=token), 404, "CATEGORY_NOT_FOUND"
    )


def test_a_category_with_threads_even_deleted_ones_cannot_be_deleted(
    client: Client, token: str
) -> None:
    thread = make_thread(make_member(), category_slug="showcase", deleted=True)

    response = send(client, "DELETE", "/admin/categories/showcase", token=token)

    assert_problem(response, 409, "CATEGORY_HAS_THREADS")
    assert Category.objects.filter(slug="showcase").exists()
    assert Thread.objects.filter(pk=thread.pk).exists()
    assert not SecurityEvent.objects.filter(event_type="admin_category_deleted").exists()
