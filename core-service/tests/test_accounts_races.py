"""Concurrency: the unique indexes and row locks decide, with real parallel transactions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from alephdraad_core.accounts.models import EmailVerificationToken, User
from tests.accounts_helpers import PASSWORD, make_user, outbox, post_json, token_in
from tests.concurrency import in_threads

REGISTER = "/api/v1/auth/register"
CONFIRM = "/api/v1/auth/verify-email/confirm"

pytestmark = pytest.mark.django_db(transaction=True)


def register(email: str, username: str, ip: str) -> Callable[[], Any]:
    body = {"email": email, "password": PASSWORD, "username": username, "full_name": "Racer"}
    return lambda: post_json(Client(), REGISTER, body, **{"X-Real-IP": ip})


def wait_until_blocked_on_a_lock(timeout: float = 10.0) -> None:
    """Until another backend waits for a lock this connection's open transaction holds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # pg_stat_activity is a per-transaction snapshot unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the other transaction never blocked")


def test_two_concurrent_registrations_of_one_username_give_one_201_and_one_409() -> None:
    first, second = in_threads(
        register("one@example.com", "same_name", "192.0.2.1"),
        register("two@example.com", "same_name", "192.0.2.2"),
    )

    assert sorted([first.status_code, second.status_code]) == [201, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "USERNAME_TAKEN"
    assert User.objects.filter(username="same_name").count() == 1
    assert len(outbox(kind="verify_email")) == 1


def test_a_username_taken_between_check_and_insert_is_409_not_500() -> None:
    """Forces the race: the other registration's row is uncommitted when ours checks, so
    only the unique index can refuse it."""
    results: list[Any] = []
    with transaction.atomic():
        make_user(email="first@example.com", username="contested")
        thread = threading.Thread(
            target=lambda: results.extend(
                in_threads(register("second@example.com", "contested", "192.0.2.3"))
            )
        )
        thread.start()
        wait_until_blocked_on_a_lock()
    thread.join(timeout=30)

    (response,) = results
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "USERNAME_TAKEN"
    assert [u.email for u in User.objects.all()] == ["first@example.com"]
    assert outbox() == []


def test_an_address_registered_between_check_and_insert_gets_the_same_201() -> None:
    results: list[Any] = []
    with transaction.atomic():
        make_user(email="shared@example.com", username="early_bird")
        thread = threading.Thread(
            target=lambda: results.extend(
                in_threads(register("Shared@Example.com", "late_bird", "192.0.2.4"))
            )
        )
        thread.start()
        wait_until_blocked_on_a_lock()
    thread.join(timeout=30)

    (response,) = results
    assert response.status_code == 201, response.content
    assert response.json()["verification"] == {"required": True}
    assert [u.username for u in User.objects.all()] == ["early_bird"]
    (notice,) = outbox()
    assert (notice.kind, notice.to_address) == ("register_attempt_existing", "shared@example.com")


def test_two_concurrent_confirmations_of_one_token_verify_once() -> None:
    body = {"email": "v@example.com", "password": PASSWORD, "username": "v_user", "full_name": "V"}
    assert post_json(Client(), REGISTER, body).status_code == 201
    token = token_in(outbox(kind="verify_email")[0], "/verify-email")

    def confirm() -> Any:
        return post_json(Client(), CONFIRM, {"token": token})

    answers = in_threads(confirm, confirm)

    assert sorted(a.status_code for a in answers) == [200, 400]
    assert User.objects.get().is_verified is True
    assert EmailVerificationToken.objects.get().used_at is not None
