"""Consumer contract: what the feature service expects of core-service's internal listener.

Each test drives the real `CoreClient` against a Pact mock of core and records the interaction.
At the end of the module the pact is written to a temporary directory and compared with the
committed `contracts/pacts/feature-service-core-service.json` (contracts' `sync_pact_file`):
a changed expectation fails here until the file is regenerated with `make pacts` and
committed, and core's provider test (`core-service/tests/test_pact_provider.py`) replays the
committed file against the real core, with provider states seeding its database.

The mock does not check signatures (core's own tests do); the client still signs every request.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_support import SigningKey

# Pact's core reports anonymous usage over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact, match

from alephdraad_contracts import CallerKey, validate_event
from alephdraad_contracts.testing import sync_pact_file
from alephdraad_feature.auth.jwks import http_jwks_fetch, parse_jwks
from alephdraad_feature.internal.core_client import CoreClient, LookupCache
from alephdraad_feature.internal.errors import ThreadNotFound, UserNotFound

PACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
PACT_NAME = "feature-service-core-service.json"
SIGNING_KEY = CallerKey(keyid="feature-pact", caller="feature-service", secret=b"p" * 32)
JSON = {"Content-Type": "application/json"}
RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"

BUDI = {"id": 1001, "username": "budi_pact"}
LINA = {"id": 1002, "username": "lina_pact"}
THREAD = {"id": 2001, "author_id": 1001, "author_username": "budi_pact"}
ADMIN = {"id": 3001}
SESSION = {
    "sid": "7d0c1a52-4c1e-4a57-9c55-0f3f1b7f6a01",
    "user_id": 1001,
    "username": "budi_pact",
    "fingerprint": "f" * 64,
}


@pytest.fixture(scope="module")
def pact_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each test's interactions are merged; compared with the committed file at the end."""
    out = tmp_path_factory.mktemp("pacts")
    yield out
    sync_pact_file(out / PACT_NAME, PACTS_DIR / PACT_NAME)


@pytest.fixture
def pact(pact_dir: Path) -> Iterator[Pact]:
    # One Pact per test: a Pact cannot take new interactions once its mock server has run.
    pact = Pact("feature-service", "core-service").with_specification("V4")
    yield pact
    pact.write_file(pact_dir, overwrite=False)


@asynccontextmanager
async def core_client(pact: Pact) -> AsyncIterator[CoreClient]:
    with pact.serve() as server:
        client = CoreClient(
            base_url=str(server.url).rstrip("/"),
            signing_key=SIGNING_KEY,
            timeout_seconds=5,
            cache=LookupCache(positive_seconds=0, negative_seconds=0),
        )
        try:
            yield client
        finally:
            await client.aclose()


async def test_lookup_reports_users_names_and_threads(pact: Pact) -> None:
    (
        pact.upon_receiving("a lookup of users, a username and threads")
        .given("a user exists", BUDI)
        .given("a locked user exists", LINA)
        .given("a thread exists", THREAD)
        .with_request("POST", "/internal/v1/lookup")
        .with_headers(JSON)
        .with_body(
            {
                "user_ids": [1001, 1002, 9999],
                "usernames": ["budi_pact"],
                "thread_ids": [2001, 9998],
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "users": {
                    "1001": {
                        "exists": True,
                        "username": "budi_pact",
                        "locked": False,
                        "deleted": False,
                    },
                    "1002": {
                        "exists": True,
                        "username": "lina_pact",
                        "locked": True,
                        "deleted": False,
                    },
                    "9999": {"exists": False, "username": None, "locked": False, "deleted": False},
                },
                "usernames": {"budi_pact": {"exists": True, "user_id": 1001, "locked": False}},
                "threads": {
                    "2001": {
                        "exists": True,
                        "deleted": False,
                        "author_id": 1001,
                        "category_slug": match.str("general"),
                    },
                    "9998": {
                        "exists": False,
                        "deleted": False,
                        "author_id": None,
                        "category_slug": None,
                    },
                },
            },
            content_type="application/json",
        )
    )
    async with core_client(pact) as client:
        answer = await client.lookup(
            user_ids=[1001, 1002, 9999], usernames=["budi_pact"], thread_ids=[2001, 9998]
        )
    assert answer.user(1001).live
    assert answer.user(1002).locked
    assert not answer.user(9999).exists
    assert answer.username("budi_pact").user_id == 1001
    assert answer.thread(2001).live
    assert answer.thread(2001).author_id == 1001
    assert not answer.thread(9998).exists


async def test_session_state_of_an_active_session(pact: Pact) -> None:
    (
        pact.upon_receiving("a question about an active session")
        .given("a session is active", SESSION)
        .with_request("GET", f"/internal/v1/sessions/{SESSION['sid']}")
        .will_respond_with(200)
        .with_body({"active": True, "user_id": 1001}, content_type="application/json")
    )
    async with core_client(pact) as client:
        state = await client.session_state(str(SESSION["sid"]))
    assert state.active
    assert state.user_id == 1001


async def test_device_hashes_of_a_user(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a user's device hashes")
        .given("a session is active", SESSION)
        .with_request("GET", "/internal/v1/users/1001/device-hashes")
        .will_respond_with(200)
        .with_body({"hashes": ["f" * 64]}, content_type="application/json")
    )
    async with core_client(pact) as client:
        assert await client.device_hashes(1001) == ["f" * 64]


async def test_device_hashes_of_an_unknown_user(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the device hashes of an unknown user")
        .with_request("GET", "/internal/v1/users/9999/device-hashes")
        .will_respond_with(404)
        .with_body({"code": "USER_NOT_FOUND", "status": 404}, content_type=None)
        .with_header("Content-Type", "application/problem+json")
    )
    async with core_client(pact) as client:
        with pytest.raises(UserNotFound):
            await client.device_hashes(9999)


async def test_a_moderator_deletes_a_thread(pact: Pact) -> None:
    (
        pact.upon_receiving("a command to delete a thread")
        .given("a thread exists", THREAD)
        .given("an admin exists", ADMIN)
        .with_request("POST", "/internal/v1/threads/2001/delete")
        .with_headers(JSON)
        .with_body(
            {"reason": "spam", "actor": {"kind": "admin", "id": 3001}},
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {"thread_id": 2001, "deleted": True, "changed": True}, content_type="application/json"
        )
    )
    async with core_client(pact) as client:
        done = await client.delete_thread(2001, reason="spam", actor={"kind": "admin", "id": 3001})
    assert (done.thread_id, done.deleted, done.changed) == (2001, True, True)


async def test_deleting_an_unknown_thread(pact: Pact) -> None:
    (
        pact.upon_receiving("a command to delete a thread that does not exist")
        .given("an admin exists", ADMIN)
        .with_request("POST", "/internal/v1/threads/9998/delete")
        .with_headers(JSON)
        .with_body(
            {"reason": "spam", "actor": {"kind": "admin", "id": 3001}},
            content_type="application/json",
        )
        .will_respond_with(404)
        .with_body({"code": "THREAD_NOT_FOUND", "status": 404}, content_type=None)
        .with_header("Content-Type", "application/problem+json")
    )
    async with core_client(pact) as client:
        with pytest.raises(ThreadNotFound):
            await client.delete_thread(9998, reason="spam", actor={"kind": "admin", "id": 3001})


async def test_a_moderator_locks_a_user(pact: Pact) -> None:
    until = datetime(2099, 1, 1, tzinfo=UTC)
    (
        pact.upon_receiving("a command to lock a user until a date")
        .given("a user exists", BUDI)
        .given("an admin exists", ADMIN)
        .with_request("POST", "/internal/v1/users/1001/lock")
        .with_headers(JSON)
        .with_body(
            {
                "reason": "harassment",
                "until": "2099-01-01T00:00:00Z",
                "actor": {"kind": "admin", "id": 3001},
            },
            content_type="application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "user_id": 1001,
                "locked": True,
                "until": match.regex("2099-01-01T00:00:00Z", regex=RFC3339),
                "revoked_sessions": match.int(0),
            },
            content_type="application/json",
        )
    )
    async with core_client(pact) as client:
        done = await client.lock_user(
            1001, reason="harassment", until=until, actor={"kind": "admin", "id": 3001}
        )
    assert done.locked
    assert done.until == until


async def test_a_reply_deleted_event_is_acknowledged(pact: Pact) -> None:
    # Core clears an accepted answer when its reply is deleted; the contract here is that core
    # takes the event (handled, or a duplicate of one it has).
    envelope: dict[str, Any] = {
        "id": "evt_01JD0000000000000000000000",
        "type": "reply.deleted",
        "version": 1,
        "occurred_at": "2026-11-25T03:00:00Z",
        "producer": "feature-service",
        "data": {
            "reply_id": "rpl_01JD0000000000000000000000",
            "thread_id": 2001,
            "author_id": 1001,
            "actor": {"kind": "user", "id": 1001},
        },
    }
    validate_event(envelope)
    (
        pact.upon_receiving("a reply.deleted event")
        .with_request("POST", "/internal/v1/events")
        .with_headers(JSON)
        .with_body(envelope, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {"status": match.regex("handled", regex="^(handled|duplicate)$")},
            content_type="application/json",
        )
    )
    async with core_client(pact) as client:
        outcome = await client.deliver_event(envelope)
    assert outcome.result == "delivered"


async def test_core_publishes_its_token_signing_keys(pact: Pact) -> None:
    # Not an internal route: any client may fetch the JWKS; the feature service verifies every
    # member's and admin's token with these keys (auth/jwks.py).
    example = SigningKey("example", seed=bytes(range(32))).jwk()
    (
        pact.upon_receiving("a request for core's public token-signing keys")
        .with_request("GET", "/.well-known/jwks.json")
        .will_respond_with(200)
        .with_body(
            {
                "keys": match.each_like(
                    {
                        "kty": "OKP",
                        "crv": "Ed25519",
                        "x": match.regex(example["x"], regex=r"^[A-Za-z0-9_-]{43}$"),
                        "kid": match.str(example["kid"]),
                        "use": "sig",
                        "alg": "EdDSA",
                    }
                )
            },
            content_type="application/json",
        )
    )
    with pact.serve() as server:
        async with httpx.AsyncClient() as http:
            fetch = http_jwks_fetch(http, f"{str(server.url).rstrip('/')}/.well-known/jwks.json")
            keys = parse_jwks(await fetch())
    assert list(keys) == [example["kid"]]
