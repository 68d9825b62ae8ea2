"""PATCH /me/username: registration's rules, sudo, once per 30 days, race-safe uniqueness."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, RequestFactory
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.accounts.services import USERNAME_CHANGE_INTERVAL
from alephdraad_core.security.models import SecurityEvent
from alephdraad_core.sudo.services import SUDO_HEADER, do_grant_sudo
from tests.accounts_helpers import PASSWORD, SignedIn, make_user, patch_json, post_json, sign_in
from tests.admins_helpers import next_ip
from tests.badges_support import wait_until_blocked_on_a_lock
from tests.concurrency import in_threads
from tests.conftest import BAD_SHAPE, assert_problem, error_fields

URL = "/api/v1/me/username"
_probes = itertools.count(1)


def with_sudo(signed_in: SignedIn) -> dict[str, str]:
    request = RequestFactory().post("/api/v1/auth/sudo", REMOTE_ADDR="127.0.0.1")
    grant = do_grant_sudo(request, session=signed_in.session, method="pwd")
    return {**signed_in.headers, SUDO_HEADER: grant.token}


def change(client: Client, headers: dict[str, str], username: Any) -> Any:
    return patch_json(client, URL, {"username": username}, **headers)


def renames() -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(event_type="username_changed").order_by("id"))


@pytest.fixture
def mira() -> SignedIn:
    return sign_in(make_user())


pytestmark = pytest.mark.django_db


def test_change_answers_the_account_and_records_old_and_new(client: Client, mira: SignedIn) -> None:
    before = timezone.now()

    response = change(client, with_sudo(mira), "mira_castellan")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["username"], body["email"]) == (
        mira.user.pk,
        "mira_castellan",
        "mira@example.com",
    )
    user = User.objects.get()
    assert user.username == "mira_castellan"
    assert user.username_changed_at is not None
    assert before <= user.username_changed_at <= timezone.now()
    (event,) = renames()
    assert event.user_id == mira.user.pk
    assert event.details == {"old": "mira", "new": "mira_castellan"}


def test_the_new_name_is_the_public_profile_and_the_old_one_is_free(
    client: Client, mira: SignedIn
) -> None:
    assert change(client, with_sudo(mira), "mira_c").status_code == 200

    assert client.get("/api/v1/users/mira_c").status_code == 200
    assert_problem(client.get("/api/v1/users/mira"), 404, "USER_NOT_FOUND")


def test_asking_for_the_current_name_changes_nothing(client: Client, mira: SignedIn) -> None:
    response = change(client, with_sudo(mira), "mira")

    assert response.status_code == 200, response.content
    assert response.json()["username"] == "mira"
    assert User.objects.get().username_changed_at is None
    assert renames() == []


def test_needs_sudo_and_a_user_token(client: Client, mira: SignedIn) -> None:
    assert_problem(change(client, mira.headers, "mira_2"), 403, "SUDO_REQUIRED")
    assert_problem(change(client, {}, "mira_2"), 401, "UNAUTHENTICATED")
    assert User.objects.get().username == "mira"


def registration_answer(client: Client, username: Any) -> tuple[int, str, list[Any]]:
    """How registration answers this username (everything else in the body valid)."""
    body = {
        "email": f"probe{next(_probes)}@example.com",
        "password": PASSWORD,
        "username": username,
        "full_name": "Probe",
    }
    response = post_json(client, "/api/v1/auth/register", body, **{"X-Real-IP": next_ip()})
    problem = response.json()
    return response.status_code, problem["code"], problem["errors"]


@pytest.mark.parametrize(
    "username",
    [
        # reserved
        "admin",
        "root",
        "support",
        "null",
        "alephdraad_team",
        "moderator2",
        "me",
        # outside the pattern
        "ab",
        "Mira",
        "mi ra",
        "mi-ra",
        "émile",
        "m" * 31,
        "",
        # not a string
        None,
        42,
    ],
)
def test_names_registration_refuses_are_refused_the_same_way(
    client: Client, mira: SignedIn, username: Any
) -> None:
    expected = registration_answer(client, username)
    assert expected[0] in {400, 422}

    response = change(client, with_sudo(mira), username)

    body = assert_problem(response, expected[0], expected[1])
    assert body["errors"] == expected[2]
    assert error_fields(body) == {"username"}
    assert User.objects.get(pk=mira.user.pk).username == "mira"


def test_reserved_names_say_so(client: Client, mira: SignedIn) -> None:
    response = change(client, with_sudo(mira), "administrator")

    assert response.status_code in {400, 422}
    assert response.json()["errors"] == [
        {"field": "username", "message": "This username is reserved."}
    ]


def test_unknown_fields_and_missing_username_are_refused(client: Client, mira: SignedIn) -> None:
    headers = with_sudo(mira)

    missing = patch_json(client, URL, {}, **headers)
    extra = patch_json(client, URL, {"username": "mira_2", "email": "x@example.com"}, **headers)

    assert error_fields(assert_problem(missing, *BAD_SHAPE)) == {"username"}
    assert error_fields(assert_problem(extra, *BAD_SHAPE)) == {"email"}
    assert User.objects.get().username == "mira"


def test_a_taken_name_is_409(client: Client, mira: SignedIn) -> None:
    make_user(email="other@example.com", username="taken_name")

    response = change(client, with_sudo(mira), "taken_name")

    body = assert_problem(response, 409, "USERNAME_TAKEN")
    assert error_fields(body) == {"username"}
    assert User.objects.get(pk=mira.user.pk).username == "mira"
    assert User.objects.get(pk=mira.user.pk).username_changed_at is None


def test_one_change_per_30_days(client: Client, mira: SignedIn) -> None:
    headers = with_sudo(mira)
    assert change(client, headers, "mira_one").status_code == 200
    changed_at = User.objects.get().username_changed_at
    assert changed_at is not None

    too_soon = change(client, headers, "mira_two")

    body = assert_problem(too_soon, 409, "USERNAME_CHANGE_TOO_SOON")
    available_at = changed_at + USERNAME_CHANGE_INTERVAL
    shown = (available_at + timedelta(microseconds=999_999)).replace(microsecond=0)
    assert body["available_at"] == shown.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 30 * 86400 - 60 < body["retry_after"] <= 30 * 86400 + 1
    assert User.objects.get().username == "mira_one"
    assert len(renames()) == 1

    # A day short of 30 days ago: still too soon.
    User.objects.update(username_changed_at=timezone.now() - timedelta(days=29))
    body = assert_problem(change(client, headers, "mira_two"), 409, "USERNAME_CHANGE_TOO_SOON")
    assert 86400 - 60 < body["retry_after"] <= 86400 + 1

    # Once 30 days have passed, the next change works and starts a new period.
    User.objects.update(username_changed_at=timezone.now() - timedelta(days=30, seconds=1))
    response = change(client, headers, "mira_two")
    assert response.status_code == 200, response.content
    user = User.objects.get()
    assert user.username == "mira_two"
    assert user.username_changed_at > timezone.now() - timedelta(minutes=1)
    assert [event.details for event in renames()] == [
        {"old": "mira", "new": "mira_one"},
        {"old": "mira_one", "new": "mira_two"},
    ]


def test_the_current_name_is_fine_even_within_the_30_days(client: Client, mira: SignedIn) -> None:
    headers = with_sudo(mira)
    assert change(client, headers, "mira_one").status_code == 200

    # A retried request after a success answers the same.
    assert change(client, headers, "mira_one").status_code == 200
    assert len(renames()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_name_taken_between_check_and_update_is_409_not_500() -> None:
    """Forces the race: the other account's new name is uncommitted when ours checks, so only
    the unique index can refuse it."""
    mira = sign_in(make_user())
    headers = with_sudo(mira)
    other = make_user(email="other@example.com", username="other_one")
    results: list[Any] = []

    with transaction.atomic():
        User.objects.filter(pk=other.pk).update(username="contested")
        thread = threading.Thread(
            target=lambda: results.extend(
                in_threads(lambda: change(Client(), headers, "contested"))
            )
        )
        thread.start()
        wait_until_blocked_on_a_lock()
    thread.join(timeout=30)

    (response,) = results
    assert_problem(response, 409, "USERNAME_TAKEN")
    assert User.objects.get(pk=mira.user.pk).username == "mira"
    assert User.objects.get(pk=other.pk).username == "contested"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_changes_of_one_account_make_one_change() -> None:
    mira = sign_in(make_user())
    headers = with_sudo(mira)

    answers = in_threads(
        lambda: change(Client(), headers, "mira_left"),
        lambda: change(Client(), headers, "mira_right"),
    )

    assert sorted(answer.status_code for answer in answers) == [200, 409]
    loser = next(answer for answer in answers if answer.status_code == 409)
    assert loser.json()["code"] == "USERNAME_CHANGE_TOO_SOON"
    assert User.objects.get().username in {"mira_left", "mira_right"}
    assert len(renames()) == 1
