"""Provider verification: core still honours every interaction the feature service relies on.

The Pact verifier replays `contracts/pacts/feature-service-core-service.json` (written by the
feature service's consumer tests) against core served over real HTTP by pytest-django's live
server. The verifier cannot sign requests, so it talks to a `SigningProxy` that signs each one
with the published feature-service test key: core's real signature check runs on every replay.
Provider states (`given(...)` in the consumer test) are set up here, in core's own database.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

# Pact's core reports anonymous usage over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Verifier

from alephdraad_contracts import KeyRing
from alephdraad_contracts.testing import SigningProxy
from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn.models import Session
from alephdraad_core.content.models import Category, Thread
from tests.internal_support import ACCEPT_SPEC, CALLER, KEYID, SECRET

PACT = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
PACT_FILE = PACT / "feature-service-core-service.json"


def _user(parameters: dict[str, Any], **fields: Any) -> User:
    user, _ = User.objects.update_or_create(
        pk=parameters["id"],
        defaults={
            "email": f"{parameters['username']}@example.test",
            "username": parameters["username"],
            "is_verified": True,
            "is_locked": False,
            "locked_reason": "",
            "locked_until": None,
            "deleted_at": None,
            **fields,
        },
    )
    return user


def a_user_exists(parameters: dict[str, Any]) -> None:
    _user(parameters)


def a_locked_user_exists(parameters: dict[str, Any]) -> None:
    _user(parameters, is_locked=True, locked_reason="spam")


def an_admin_exists(parameters: dict[str, Any]) -> None:
    Admin.objects.update_or_create(
        pk=parameters["id"],
        defaults={
            "email": f"admin{parameters['id']}@example.test",
            "username": f"admin{parameters['id']}",
            "password_hash": "!",
            "is_active": True,
        },
    )


def a_thread_exists(parameters: dict[str, Any]) -> None:
    author = _user({"id": parameters["author_id"], "username": parameters["author_username"]})
    # Not the migrations' default category: a transactional test before this one may have
    # flushed it.
    category, _ = Category.objects.get_or_create(
        slug="pact-general", defaults={"name": "Pact general"}
    )
    Thread.objects.update_or_create(
        pk=parameters["id"],
        defaults={
            "author": author,
            "category": category,
            "title": "A thread the feature service asks about",
            "summary": "",
            "is_deleted": False,
            "deleted_at": None,
        },
    )


def a_session_is_active(parameters: dict[str, Any]) -> None:
    user = _user({"id": parameters["user_id"], "username": parameters["username"]})
    now = timezone.now()
    Session.objects.update_or_create(
        pk=uuid.UUID(parameters["sid"]),
        defaults={
            "user": user,
            "device_fingerprint": parameters.get("fingerprint", ""),
            "last_active_at": now,
            "expires_at": now + timedelta(days=7),
            "is_revoked": False,
            "revoked_at": None,
        },
    )


def _own_connection(handler: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Pact calls state handlers on a thread of its own, which opens its own database
    connection; close it, or the test database cannot be dropped at the end."""

    @functools.wraps(handler)
    def run(parameters: dict[str, Any]) -> None:
        try:
            handler(parameters)
        finally:
            connection.close()

    return run


STATES = {
    name: _own_connection(handler)
    for name, handler in {
        "a user exists": a_user_exists,
        "a locked user exists": a_locked_user_exists,
        "an admin exists": an_admin_exists,
        "a thread exists": a_thread_exists,
        "a session is active": a_session_is_active,
    }.items()
}


@pytest.mark.django_db(transaction=True)
def test_core_honours_the_feature_services_pact(live_server: Any, settings: Any) -> None:
    assert PACT_FILE.exists(), f"{PACT_FILE} is missing: run `make pacts`"
    settings.INTERNAL_ACCEPT_KEYS = KeyRing.parse(ACCEPT_SPEC)
    with SigningProxy(live_server.url, caller=CALLER, keyid=KEYID, secret=SECRET) as proxy:
        verifier = (
            Verifier("core-service", host="127.0.0.1")
            .add_transport(url=proxy.url)
            .add_source(PACT_FILE)
            .state_handler(STATES, teardown=False)
        )
        verifier.verify()
