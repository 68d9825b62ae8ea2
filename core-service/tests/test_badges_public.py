"""The public badge catalogue and the signed-in user's primary badge."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from alephdraad_core.badges.models import UserBadge
from alephdraad_core.badges.schemas import BadgeSerializer, BadgeSummarySerializer
from alephdraad_core.badges.services import do_set_primary_badge
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

ICON = "https://cdn.example.com/badges/star.svg"


def primaries(user_id: int) -> list[int]:
    return list(
        UserBadge.objects.filter(user_id=user_id, is_primary=True).values_list(
            "badge_id", flat=True
        )
    )


# GET /badges, GET /badges/{id}


@pytest.mark.django_db
def test_catalogue_is_public_with_holder_counts_in_one_query(
    client: Client, django_assert_num_queries: Any
) -> None:
    star = make_badge("Star", description="Shines", icon_url=ICON, color="#abcdef", rarity="rare")
    plain = make_badge("Plain")
    unused = make_badge("Unused")
    for _ in range(4):
        award(make_user(), star)
    award(make_user(), plain)

    with django_assert_num_queries(1):
        response = client.get("/api/v1/badges")

    assert response.status_code == 200
    items = response.json()["items"]
    assert items[0] == {
        "id": star.pk,
        "name": "Star",
        "description": "Shines",
        "icon_url": ICON,
        "color": "#abcdef",
        "rarity": "rare",
        "holder_count": 4,
        "created_at": iso_z(star.created_at),
    }
    assert [(item["id"], item["holder_count"]) for item in items] == [
        (star.pk, 4),
        (plain.pk, 1),
        (unused.pk, 0),
    ]


@pytest.mark.django_db
def test_one_badge_with_its_holder_count(client: Client, django_assert_num_queries: Any) -> None:
    badge = make_badge("Solo")
    award(make_user(), badge)
    award(make_user(), badge)

    with django_assert_num_queries(1):
        response = client.get(f"/api/v1/badges/{badge.pk}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["holder_count"]) == (badge.pk, 2)


@pytest.mark.django_db
def test_an_unknown_badge_is_404(client: Client) -> None:
    for badge_id in (424242, 2**63):
        assert_problem(client.get(f"/api/v1/badges/{badge_id}"), 404, "BADGE_NOT_FOUND")


def test_public_badge_serializers_have_exactly_these_fields() -> None:
    assert set(BadgeSerializer().fields) == {
        "id",
        "name",
        "description",
        "icon_url",
        "color",
        "rarity",
        "holder_count",
        "created_at",
    }
    assert set(BadgeSummarySerializer().fields) == {"id", "name", "icon_url", "color", "rarity"}


# PUT /me/primary-badge


@pytest.mark.django_db
def test_choosing_a_held_badge_makes_it_the_only_primary(client: Client) -> None:
    user, token = signed_in_token()
    first = make_badge("First", icon_url=ICON, color="#010203", rarity="legendary")
    second = make_badge("Second")
    award(user, first)
    award(user, second, primary=True)

    response = call(client, "PUT", "/me/primary-badge", {"badge_id": first.pk}, token=token)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "primary_badge": {
            "id": first.pk,
            "name": "First",
            "icon_url": ICON,
            "color": "#010203",
            "rarity": "legendary",
        }
    }
    assert primaries(user.pk) == [first.pk]


@pytest.mark.django_db
def test_choosing_the_current_primary_again_keeps_it(client: Client) -> None:
    user, token = signed_in_token()
    badge = make_badge()
    award(user, badge, primary=True)

    response = call(client, "PUT", "/me/primary-badge", {"badge_id": badge.pk}, token=token)

    assert response.status_code == 200, response.content
    assert response.json()["primary_badge"]["id"] == badge.pk
    assert primaries(user.pk) == [badge.pk]


@pytest.mark.django_db
def test_null_clears_the_primary_badge(client: Client) -> None:
    user, token = signed_in_token()
    award(user, make_badge(), primary=True)

    response = call(client, "PUT", "/me/primary-badge", {"badge_id": None}, token=token)

    assert response.status_code == 200, response.content
    assert response.json() == {"primary_badge": None}
    assert primaries(user.pk) == []
    assert UserBadge.objects.filter(user=user).count() == 1  # still held


@pytest.mark.django_db
def test_only_a_badge_you_hold_can_be_primary(client: Client) -> None:
    user, token = signed_in_token()
    mine, theirs = make_badge("Mine"), make_badge("Theirs")
    award(user, mine, primary=True)
    award(make_user(), theirs)

    for badge_id in (theirs.pk, 999_999):
        response = call(client, "PUT", "/me/primary-badge", {"badge_id": badge_id}, token=token)
        body = assert_problem(response, 422, "BADGE_NOT_HELD")
        assert error_fields(body) == {"badge_id"}

    assert primaries(user.pk) == [mine.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, BAD_SHAPE),
        ({"badge_id": "1"}, BAD_SHAPE),
        ({"badge_id": [1]}, BAD_SHAPE),
        ({"badge_id": 1, "user_id": 2}, BAD_SHAPE),
        ({"badge_id": 0}, BROKEN_RULE),
        ({"badge_id": -5}, BROKEN_RULE),
    ],
)
def test_primary_badge_refuses_bad_bodies(
    client: Client, body: dict[str, Any], expected: tuple[int, str]
) -> None:
    user, token = signed_in_token()
    badge = make_badge()
    award(user, badge, primary=True)

    response = call(client, "PUT", "/me/primary-badge", body, token=token)

    assert_problem(response, *expected)
    assert primaries(user.pk) == [badge.pk]


@pytest.mark.django_db
def test_primary_badge_needs_a_user_token(client: Client) -> None:
    badge = make_badge()

    anonymous = call(client, "PUT", "/me/primary-badge", {"badge_id": badge.pk})
    as_admin = call(
        client, "PUT", "/me/primary-badge", {"badge_id": badge.pk}, token=admin_token(make_admin())
    )

    assert_problem(anonymous, 401, "UNAUTHENTICATED")
    assert_problem(as_admin, 401, "AUTH_TOKEN_INVALID")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_choices_leave_exactly_one_primary() -> None:
    user, token = signed_in_token()
    badges = [make_badge() for _ in range(2)]
    for badge in badges:
        award(user, badge)

    for _ in range(3):
        answers = in_threads(
            *(
                lambda badge=badge: call(
                    Client(), "PUT", "/me/primary-badge", {"badge_id": badge.pk}, token=token
                )
                for badge in badges
            )
        )

        assert [answer.status_code for answer in answers] == [200, 200]
        (primary,) = primaries(user.pk)
        assert primary in {badge.pk for badge in badges}


@pytest.mark.django_db(transaction=True)
def test_a_choice_waits_for_a_concurrent_one_and_then_wins() -> None:
    """Forces the overlap: our transaction made `first` primary and still holds the rows, so
    the request must wait for it, then clear `first` before setting `second`."""
    user, token = signed_in_token()
    first, second = make_badge(), make_badge()
    award(user, first)
    award(user, second)
    results: list[Any] = []

    with transaction.atomic():
        do_set_primary_badge(user, badge_id=first.pk)
        thread = threading.Thread(
            target=lambda: results.extend(
                in_threads(
                    lambda: call(
                        Client(), "PUT", "/me/primary-badge", {"badge_id": second.pk}, token=token
                    )
                )
            )
        )
        thread.start()
        wait_until_blocked_on_a_lock()
    thread.join(timeout=30)

    (response,) = results
    assert response.status_code == 200, response.content
    assert primaries(user.pk) == [second.pk]
