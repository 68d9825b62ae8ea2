"""The admin badge API: the catalogue (create, list, update, delete) and awards (award, revoke),
with their conflicts, audit events and token audience."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, RequestFactory

from alephdraad_core.admins.models import Admin
from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.badges.services import do_award_badge
from alephdraad_core.security.models import SecurityEvent
from tests.admins_helpers import admin_token, iso_z, make_admin, make_user
from tests.badges_support import (
    award,
    call,
    make_badge,
    signed_in_token,
    wait_until_blocked_on_a_lock,
)
from tests.concurrency import in_threads
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields

pytestmark = pytest.mark.django_db

ICON = "https://cdn.example.com/badges/gold.svg"


@pytest.fixture
def admin() -> Admin:
    return make_admin()


@pytest.fixture
def token(admin: Admin) -> str:
    return admin_token(admin)


def events(event_type: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(event_type=event_type).order_by("id"))


# POST /admin/badges


def test_create_answers_201_with_the_badge_and_records_an_event(
    client: Client, admin: Admin, token: str
) -> None:
    body = {
        "name": "Gold Contributor",
        "description": "Wrote 100 helpful answers.",
        "icon_url": ICON,
        "color": "#FFD700",
        "rarity": "epic",
    }

    response = call(client, "POST", "/admin/badges", body, token=token)

    assert response.status_code == 201, response.content
    badge = Badge.objects.get()
    assert response.json() == {
        "id": badge.pk,
        **body,
        "holder_count": 0,
        "created_at": iso_z(badge.created_at),
    }
    (event,) = events("badge_created")
    assert (event.admin_id, event.user_id) == (admin.pk, None)
    assert event.details == {"badge_id": badge.pk, "name": "Gold Contributor", "rarity": "epic"}


def test_create_fills_defaults_and_trims_the_name(client: Client, token: str) -> None:
    response = call(client, "POST", "/admin/badges", {"name": "  Early Bird "}, token=token)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["description"], body["icon_url"], body["color"]) == (
        "Early Bird",
        "",
        "",
        "",
    )
    assert body["rarity"] == "common"
    assert Badge.objects.get().name == "Early Bird"


def test_a_taken_name_is_409_and_nothing_is_added(client: Client, token: str) -> None:
    make_badge("Veteran")

    response = call(client, "POST", "/admin/badges", {"name": "Veteran"}, token=token)

    body = assert_problem(response, 409, "BADGE_NAME_TAKEN")
    assert error_fields(body) == {"name"}
    assert Badge.objects.count() == 1
    assert events("badge_created") == []


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({}, "name", BAD_SHAPE),
        ({"name": None}, "name", BAD_SHAPE),
        ({"name": 7}, "name", BAD_SHAPE),
        ({"name": ""}, "name", BROKEN_RULE),
        ({"name": "x" * 101}, "name", BROKEN_RULE),
        ({"name": "Ok", "rarity": "mythic"}, "rarity", BROKEN_RULE),
        ({"name": "Ok", "rarity": 3}, "rarity", BAD_SHAPE),
        ({"name": "Ok", "color": "gold"}, "color", BAD_SHAPE),
        ({"name": "Ok", "icon_url": "http://cdn.example.com/a.svg"}, "icon_url", BAD_SHAPE),
        ({"name": "Ok", "icon_url": "javascript:alert(1)"}, "icon_url", BAD_SHAPE),
        ({"name": "Ok", "description": "d" * 1001}, "description", BROKEN_RULE),
        ({"name": "Ok", "holder_count": 5}, "holder_count", BAD_SHAPE),
    ],
)
def test_create_refuses_bad_bodies(
    client: Client, token: str, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    response = call(client, "POST", "/admin/badges", body, token=token)

    problem = assert_problem(response, *expected)
    assert error_fields(problem) == {field}
    assert not Badge.objects.exists()


# GET /admin/badges


def test_admin_list_has_holder_counts(client: Client, token: str) -> None:
    popular, lonely = make_badge("Popular"), make_badge("Lonely")
    for _ in range(3):
        award(make_user(), popular)

    response = call(client, "GET", "/admin/badges", token=token)

    assert response.status_code == 200
    counts = [(item["id"], item["holder_count"]) for item in response.json()["items"]]
    assert counts == [(popular.pk, 3), (lonely.pk, 0)]


# PATCH /admin/badges/{id}


def test_update_changes_only_the_given_fields_and_records_old_and_new(
    client: Client, admin: Admin, token: str
) -> None:
    badge = make_badge("Helper", rarity="rare", color="#112233")
    award(make_user(), badge)

    response = call(
        client, "PATCH", f"/admin/badges/{badge.pk}", {"name": "Great Helper"}, token=token
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["rarity"], body["color"], body["holder_count"]) == (
        "Great Helper",
        "rare",
        "#112233",
        1,
    )
    badge.refresh_from_db()
    assert (badge.name, badge.rarity) == ("Great Helper", "rare")
    (event,) = events("badge_updated")
    assert event.admin_id == admin.pk
    assert event.details == {
        "badge_id": badge.pk,
        "changes": {"name": {"old": "Helper", "new": "Great Helper"}},
    }


def test_an_update_that_changes_nothing_records_nothing(client: Client, token: str) -> None:
    badge = make_badge("Same")

    for body in ({}, {"name": "Same"}):
        response = call(client, "PATCH", f"/admin/badges/{badge.pk}", body, token=token)
        assert response.status_code == 200, response.content
        assert response.json()["name"] == "Same"

    assert events("badge_updated") == []


def test_renaming_to_a_taken_name_is_409(client: Client, token: str) -> None:
    make_badge("Taken")
    badge = make_badge("Mine")

    response = call(client, "PATCH", f"/admin/badges/{badge.pk}", {"name": "Taken"}, token=token)

    assert_problem(response, 409, "BADGE_NAME_TAKEN")
    badge.refresh_from_db()
    assert badge.name == "Mine"


def test_update_refuses_bad_values(client: Client, token: str) -> None:
    badge = make_badge("Mine")

    response = call(client, "PATCH", f"/admin/badges/{badge.pk}", {"rarity": "x"}, token=token)

    assert_problem(response, *BROKEN_RULE)
    badge.refresh_from_db()
    assert badge.rarity == "common"


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_an_unknown_badge_is_404(client: Client, token: str, method: str) -> None:
    for badge_id in (999_999, 2**63):
        body = {"name": "x"} if method == "PATCH" else None
        response = call(client, method, f"/admin/badges/{badge_id}", body, token=token)
        assert_problem(response, 404, "BADGE_NOT_FOUND")


# DELETE /admin/badges/{id}


def test_delete_removes_an_unheld_badge_and_records_it(
    client: Client, admin: Admin, token: str
) -> None:
    badge = make_badge("Unused")

    response = call(client, "DELETE", f"/admin/badges/{badge.pk}", token=token)

    assert response.status_code == 204
    assert response.content == b""
    assert not Badge.objects.exists()
    (event,) = events("badge_deleted")
    assert (event.admin_id, event.details) == (admin.pk, {"badge_id": badge.pk, "name": "Unused"})


def test_delete_of_a_held_badge_is_409_and_keeps_everything(client: Client, token: str) -> None:
    badge = make_badge("Held")
    award(make_user(), badge)
    award(make_user(), badge, primary=True)

    response = call(client, "DELETE", f"/admin/badges/{badge.pk}", token=token)

    body = assert_problem(response, 409, "BADGE_HELD")
    assert body["holder_count"] == 2
    assert Badge.objects.filter(pk=badge.pk).exists()
    assert UserBadge.objects.filter(badge=badge).count() == 2
    assert events("badge_deleted") == []


# POST /admin/users/{id}/badges


def test_award_answers_201_and_stores_who_awarded_it_and_why(
    client: Client, admin: Admin, token: str
) -> None:
    user = make_user()
    badge = make_badge("Bug Hunter", icon_url=ICON, color="#00aa00", rarity="rare")

    response = call(
        client,
        "POST",
        f"/admin/users/{user.pk}/badges",
        {"badge_id": badge.pk, "reason": "Reported CVE-2026-1"},
        token=token,
    )

    assert response.status_code == 201, response.content
    held = UserBadge.objects.get()
    assert (held.user_id, held.badge_id, held.awarded_by_id, held.reason, held.is_primary) == (
        user.pk,
        badge.pk,
        admin.pk,
        "Reported CVE-2026-1",
        False,
    )
    assert response.json() == {
        "user_id": user.pk,
        "badge": {
            "id": badge.pk,
            "name": "Bug Hunter",
            "icon_url": ICON,
            "color": "#00aa00",
            "rarity": "rare",
        },
        "is_primary": False,
        "awarded_at": iso_z(held.awarded_at),
        "awarded_by": admin.pk,
        "reason": "Reported CVE-2026-1",
    }
    (event,) = events("badge_awarded")
    assert (event.admin_id, event.user_id) == (admin.pk, user.pk)
    assert event.details == {
        "badge_id": badge.pk,
        "name": "Bug Hunter",
        "reason": "Reported CVE-2026-1",
    }


def test_awarding_twice_is_409(client: Client, token: str) -> None:
    user, badge = make_user(), make_badge()
    award(user, badge)

    response = call(
        client,
        "POST",
        f"/admin/users/{user.pk}/badges",
        {"badge_id": badge.pk, "reason": "again"},
        token=token,
    )

    body = assert_problem(response, 409, "BADGE_ALREADY_AWARDED")
    assert error_fields(body) == {"badge_id"}
    assert UserBadge.objects.count() == 1
    assert events("badge_awarded") == []


def test_award_to_an_unknown_user_is_404(client: Client, token: str) -> None:
    badge = make_badge()

    response = call(
        client,
        "POST",
        "/admin/users/999999/badges",
        {"badge_id": badge.pk, "reason": "r"},
        token=token,
    )

    assert_problem(response, 404, "USER_NOT_FOUND")
    assert not UserBadge.objects.exists()


def test_award_of_an_unknown_badge_is_a_422_field_error(client: Client, token: str) -> None:
    user = make_user()

    response = call(
        client,
        "POST",
        f"/admin/users/{user.pk}/badges",
        {"badge_id": 999_999, "reason": "r"},
        token=token,
    )

    body = assert_problem(response, 422, "UNKNOWN_BADGE")
    assert error_fields(body) == {"badge_id"}
    assert not UserBadge.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"reason": "r"}, "badge_id", BAD_SHAPE),
        ({"badge_id": "1", "reason": "r"}, "badge_id", BAD_SHAPE),
        ({"badge_id": 1.0, "reason": "r"}, "badge_id", BAD_SHAPE),
        ({"badge_id": True, "reason": "r"}, "badge_id", BAD_SHAPE),
        ({"badge_id": 0, "reason": "r"}, "badge_id", BROKEN_RULE),
        ({"badge_id": 2**63, "reason": "r"}, "badge_id", BROKEN_RULE),
        ({"badge_id": 1}, "reason", BAD_SHAPE),
        ({"badge_id": 1, "reason": ""}, "reason", BROKEN_RULE),
        ({"badge_id": 1, "reason": "r" * 501}, "reason", BROKEN_RULE),
        ({"badge_id": 1, "reason": "r", "is_primary": True}, "is_primary", BAD_SHAPE),
    ],
)
def test_award_refuses_bad_bodies(
    client: Client, token: str, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    user = make_user()

    response = call(client, "POST", f"/admin/users/{user.pk}/badges", body, token=token)

    problem = assert_problem(response, *expected)
    assert error_fields(problem) == {field}
    assert not UserBadge.objects.exists()


# DELETE /admin/users/{id}/badges/{badge_id}


def test_revoke_answers_204_deletes_the_award_and_records_the_reason(
    client: Client, admin: Admin, token: str
) -> None:
    user, badge, other = make_user(), make_badge("Mod Pick"), make_badge()
    held = award(user, badge, primary=True)
    award(user, other)

    response = call(
        client,
        "DELETE",
        f"/admin/users/{user.pk}/badges/{badge.pk}",
        {"reason": "Awarded by mistake"},
        token=token,
    )

    assert response.status_code == 204, response.content
    assert list(UserBadge.objects.values_list("badge_id", flat=True)) == [other.pk]
    (event,) = events("badge_revoked")
    assert (event.admin_id, event.user_id) == (admin.pk, user.pk)
    assert event.details == {
        "badge_id": badge.pk,
        "name": "Mod Pick",
        "reason": "Awarded by mistake",
        "was_primary": True,
        "awarded_at": held.awarded_at.isoformat(),
    }


def test_revoking_a_badge_not_held_is_404(client: Client, token: str) -> None:
    user, badge = make_user(), make_badge()
    award(make_user(), badge)  # someone else holds it

    for badge_id in (badge.pk, 999_999):
        response = call(
            client,
            "DELETE",
            f"/admin/users/{user.pk}/badges/{badge_id}",
            {"reason": "r"},
            token=token,
        )
        assert_problem(response, 404, "USER_BADGE_NOT_FOUND")
    assert UserBadge.objects.count() == 1
    assert events("badge_revoked") == []


def test_revoke_needs_a_reason_and_a_known_user(client: Client, token: str) -> None:
    user, badge = make_user(), make_badge()
    award(user, badge)
    path = f"/admin/users/{user.pk}/badges/{badge.pk}"

    assert_problem(call(client, "DELETE", path, token=token), *BAD_SHAPE)
    assert_problem(call(client, "DELETE", path, {"reason": ""}, token=token), *BROKEN_RULE)
    missing_user = call(
        client, "DELETE", f"/admin/users/999999/badges/{badge.pk}", {"reason": "r"}, token=token
    )
    assert_problem(missing_user, 404, "USER_NOT_FOUND")
    assert UserBadge.objects.count() == 1


# Token audience


ADMIN_ROUTES = [
    ("GET", "/admin/badges", None),
    ("POST", "/admin/badges", {"name": "Sneaky"}),
    ("PATCH", "/admin/badges/{badge}", {"name": "Sneaky"}),
    ("DELETE", "/admin/badges/{badge}", None),
    ("POST", "/admin/users/{user}/badges", {"badge_id": "{badge}", "reason": "r"}),
    ("DELETE", "/admin/users/{user}/badges/{badge}", {"reason": "r"}),
]


@pytest.mark.parametrize(("method", "template", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize("who", ["user", "nobody"])
def test_admin_routes_refuse_user_tokens_and_anonymous_callers(
    client: Client, method: str, template: str, body: Any, who: str
) -> None:
    user, user_access = signed_in_token()
    badge = make_badge("Original")
    award(user, badge)
    path = template.format(badge=badge.pk, user=user.pk)
    if body is not None and body.get("badge_id") == "{badge}":
        body = {**body, "badge_id": badge.pk}

    response = call(client, method, path, body, token=user_access if who == "user" else None)

    assert_problem(response, 401, "AUTH_TOKEN_INVALID" if who == "user" else "UNAUTHENTICATED")
    assert list(Badge.objects.values_list("name", flat=True)) == ["Original"]
    assert UserBadge.objects.count() == 1
    assert not SecurityEvent.objects.exists()


# Concurrency


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_awards_of_one_badge_give_one_201_and_one_409() -> None:
    token = admin_token(make_admin())
    user, badge = make_user(), make_badge()
    body = {"badge_id": badge.pk, "reason": "race"}

    answers = in_threads(
        *(
            lambda: call(Client(), "POST", f"/admin/users/{user.pk}/badges", body, token=token)
            for _ in range(2)
        )
    )

    assert sorted(answer.status_code for answer in answers) == [201, 409]
    assert UserBadge.objects.count() == 1
    assert len(events("badge_awarded")) == 1


@pytest.mark.django_db(transaction=True)
def test_deleting_a_badge_waits_for_an_award_in_flight_and_then_refuses() -> None:
    """Forces the overlap: our award is uncommitted while the deletion runs; the badge row
    lock makes the deletion wait and then see the new holder."""
    admin = make_admin()
    token = admin_token(admin)
    user, badge = make_user(), make_badge()
    request = RequestFactory().post("/")
    results: list[Any] = []

    with transaction.atomic():
        do_award_badge(admin, user, badge_id=badge.pk, reason="first", request=request)
        thread = threading.Thread(
            target=lambda: results.extend(
                in_threads(
                    lambda: call(Client(), "DELETE", f"/admin/badges/{badge.pk}", token=token)
                )
            )
        )
        thread.start()
        wait_until_blocked_on_a_lock()
    thread.join(timeout=30)

    (response,) = results
    assert_problem(response, 409, "BADGE_HELD")
    assert Badge.objects.filter(pk=badge.pk).exists()
    assert UserBadge.objects.get().user_id == user.pk
