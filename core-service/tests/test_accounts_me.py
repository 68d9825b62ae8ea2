"""GET and PATCH /api/v1/me: the signed-in user's own account."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.tokens import issue_admin_token
from tests.accounts_helpers import make_user, patch_json, sign_in
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem

ME = "/api/v1/me"
UTC_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

pytestmark = pytest.mark.django_db


def test_me_returns_the_signed_in_account(client: Client, django_assert_num_queries: Any) -> None:
    user = make_user()
    make_user(email="other@example.com", username="other")
    signed_in = sign_in(user)

    # One query: the authenticator's session-and-user lookup. Nothing more per request.
    with django_assert_num_queries(1):
        response = client.get(ME, headers=signed_in.headers)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "id": user.pk,
        "email": "mira@example.com",
        "username": "mira",
        "full_name": "Mira Castellan",
        "avatar_url": None,
        "is_verified": True,
        "totp_enabled": False,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    for field in ("created_at", "updated_at"):
        assert UTC_TIMESTAMP.match(body[field]), body[field]


def test_me_needs_a_user_token(client: Client) -> None:
    make_user()
    admin_token = issue_admin_token(admin_id=1, username="root").token

    assert_problem(client.get(ME), 401, "UNAUTHENTICATED")
    assert_problem(
        client.get(ME, headers={"Authorization": "Bearer nonsense"}), 401, "AUTH_TOKEN_INVALID"
    )
    assert_problem(
        client.get(ME, headers={"Authorization": f"Bearer {admin_token}"}),
        401,
        "AUTH_TOKEN_INVALID",
    )


def test_patch_changes_full_name_and_avatar(client: Client) -> None:
    user = make_user()
    signed_in = sign_in(user)
    before = User.objects.get().updated_at

    response = patch_json(
        client,
        ME,
        {"full_name": "  Mira C.  ", "avatar_url": "https://cdn.example.com/a/mira.png"},
        **signed_in.headers,
    )

    assert response.status_code == 200, response.content
    assert response.json()["full_name"] == "Mira C."
    assert response.json()["avatar_url"] == "https://cdn.example.com/a/mira.png"
    stored = User.objects.get()
    assert (stored.full_name, stored.avatar_url) == (
        "Mira C.",
        "https://cdn.example.com/a/mira.png",
    )
    assert stored.updated_at > before
    assert response.json()["updated_at"].endswith("Z")


def test_patch_with_null_avatar_removes_it_and_leaves_the_name(client: Client) -> None:
    user = make_user()
    User.objects.filter(pk=user.pk).update(avatar_url="https://cdn.example.com/old.png")
    signed_in = sign_in(user)

    response = patch_json(client, ME, {"avatar_url": None}, **signed_in.headers)

    assert response.status_code == 200
    stored = User.objects.get()
    assert (stored.avatar_url, stored.full_name) == (None, "Mira Castellan")


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"avatar_url": "http://cdn.example.com/a.png"}, "avatar_url", BAD_SHAPE),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url", BAD_SHAPE),
        ({"avatar_url": "data:image/png;base64,AAAA"}, "avatar_url", BAD_SHAPE),
        ({"avatar_url": "https://" + "a" * 2048 + ".example.com/"}, "avatar_url", BAD_SHAPE),
        ({"avatar_url": ""}, "avatar_url", BROKEN_RULE),
        ({"full_name": ""}, "full_name", BROKEN_RULE),
        ({"full_name": None}, "full_name", BAD_SHAPE),
        ({"full_name": "x" * 101}, "full_name", BROKEN_RULE),
        ({"full_name": 5}, "full_name", BAD_SHAPE),
        ({"email": "new@example.com"}, "email", BAD_SHAPE),
        ({"username": "newname"}, "username", BAD_SHAPE),
        ({"is_verified": True}, "is_verified", BAD_SHAPE),
        ({"totp_enabled": False}, "totp_enabled", BAD_SHAPE),
    ],
)
def test_patch_refuses_bad_values_and_every_other_field(
    client: Client, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    signed_in = sign_in(make_user(verified=False))
    before = User.objects.values().get()

    response = patch_json(client, ME, body, **signed_in.headers)

    problem = assert_problem(response, *expected)
    assert {error["field"] for error in problem["errors"]} == {field}
    assert User.objects.values().get() == before


def test_patch_needs_a_user_token(client: Client) -> None:
    make_user()

    assert_problem(patch_json(client, ME, {"full_name": "Eve"}), 401, "UNAUTHENTICATED")
    assert User.objects.get().full_name == "Mira Castellan"
