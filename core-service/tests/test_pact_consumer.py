"""Consumer contract: what core expects of the feature service's internal listener.

Each test drives core's real client code (`fetch_deletion_check`, `fetch_reply_states` and the
accepted-answer check built on it, the outbox's `deliver`) against a Pact mock of the feature
service. The interactions are merged into a temporary pact file that must equal the committed
`contracts/pacts/core-service-feature-service.json` (contracts' `sync_pact_file`; refresh it with
`make pacts`). The feature service's provider test replays the committed file against the real
feature service. The mock does not check signatures (each provider's own tests do).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Pact's core reports anonymous usage over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact, match

from alephdraad_contracts import CallerKey, make_event
from alephdraad_contracts.testing import sync_pact_file
from alephdraad_core.content.errors import ReplyNotInThread
from alephdraad_core.content.models import Thread
from alephdraad_core.content.services import check_reply_in_thread
from alephdraad_core.internal.peers import fetch_deletion_check, fetch_reply_states
from alephdraad_core.outbox.dispatcher import Verdict, deliver

PACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
PACT_NAME = "core-service-feature-service.json"
SIGNING_KEY = CallerKey(keyid="core-pact", caller="core-service", secret=b"c" * 32)
JSON = {"Content-Type": "application/json"}
REPLY_ID = "rpl_01JD0000000000000000000000"
# The provider state "a reply exists" creates it: a live reply of thread 2001 by user 1001.
LIVE_REPLY_ID = "rpl_01JD0000000000000000000001"
LIVE_REPLY = {"id": LIVE_REPLY_ID, "thread_id": 2001, "author_id": 1001}


@pytest.fixture(scope="module")
def pact_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("pacts")
    yield out
    sync_pact_file(out / PACT_NAME, PACTS_DIR / PACT_NAME)


@pytest.fixture
def pact(pact_dir: Path) -> Iterator[Pact]:
    # One Pact per test: a Pact cannot take new interactions once its mock server has run.
    pact = Pact("core-service", "feature-service").with_specification("V4")
    yield pact
    pact.write_file(pact_dir, overwrite=False)


@pytest.fixture
def serve(pact: Pact, settings: Any) -> Iterator[None]:
    with pact.serve() as server:
        settings.INTERNAL_SIGNING_KEY = SIGNING_KEY
        settings.FEATURE_INTERNAL_URL = str(server.url).rstrip("/")
        yield


def test_a_user_holding_nothing_may_be_deleted(pact: Pact, request: pytest.FixtureRequest) -> None:
    (
        pact.upon_receiving("a deletion check of a user the feature service holds nothing of")
        .with_request("GET", "/internal/v1/users/1001/deletion-check")
        .will_respond_with(200)
        .with_body({"can_delete": True, "blocking_reasons": []}, content_type="application/json")
    )
    request.getfixturevalue("serve")
    check = fetch_deletion_check(1001)
    assert check.can_delete
    assert check.blocking_reasons == ()


def test_a_reply_lookup_reports_unknown_replies(pact: Pact, request: pytest.FixtureRequest) -> None:
    (
        pact.upon_receiving("a lookup of a reply that does not exist")
        .with_request("POST", "/internal/v1/lookup")
        .with_headers(JSON)
        .with_body({"reply_ids": [REPLY_ID]}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {
                "replies": {
                    REPLY_ID: {
                        "exists": False,
                        "deleted": False,
                        "thread_id": None,
                        "author_id": None,
                    }
                }
            },
            content_type="application/json",
        )
    )
    request.getfixturevalue("serve")
    state = fetch_reply_states([REPLY_ID])[REPLY_ID]
    assert (state.exists, state.deleted, state.thread_id) == (False, False, None)


def test_a_live_reply_of_the_thread_may_be_accepted(
    pact: Pact, request: pytest.FixtureRequest
) -> None:
    reply_id = LIVE_REPLY_ID
    (
        pact.upon_receiving("a lookup of a live reply of a thread")
        .given("a reply exists", LIVE_REPLY)
        .with_request("POST", "/internal/v1/lookup")
        .with_headers(JSON)
        .with_body({"reply_ids": [reply_id]}, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {
                "replies": {
                    reply_id: {
                        "exists": True,
                        "deleted": False,
                        "thread_id": LIVE_REPLY["thread_id"],
                        "author_id": LIVE_REPLY["author_id"],
                    }
                }
            },
            content_type="application/json",
        )
    )
    request.getfixturevalue("serve")
    # What PUT /threads/2001/accepted-reply asks before it stores the id: it passes.
    check_reply_in_thread(Thread(pk=2001), reply_id)
    # ...and a reply of another thread does not (the same answer, judged against thread 2002).
    with pytest.raises(ReplyNotInThread):
        check_reply_in_thread(Thread(pk=2002), reply_id)


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("user.registered", {"user_id": 1001, "username": "budi_pact"}),
        ("user.renamed", {"user_id": 1001, "old_username": "budi_pact", "username": "budi_new"}),
        (
            "user.locked",
            {
                "user_id": 1001,
                "until": None,
                "reason": "spam",
                "actor": {"kind": "admin", "id": 3001},
            },
        ),
        ("user.unlocked", {"user_id": 1001, "actor": {"kind": "admin", "id": 3001}}),
        ("user.deleted", {"user_id": 1001}),
        (
            "thread.deleted",
            {
                "thread_id": 2001,
                "author_id": 1001,
                "reason": "",
                "actor": {"kind": "user", "id": 1001},
            },
        ),
        (
            "thread.restored",
            {"thread_id": 2001, "author_id": 1001, "actor": {"kind": "admin", "id": 3001}},
        ),
        (
            "thread.moved",
            {
                "thread_id": 2001,
                "from_category_id": 1,
                "to_category_id": 2,
                "from_author_id": 1001,
                "to_author_id": 1001,
                "actor": {"kind": "admin", "id": 3001},
            },
        ),
    ],
)
def test_every_event_type_is_accepted(
    pact: Pact, request: pytest.FixtureRequest, event_type: str, data: dict[str, Any]
) -> None:
    envelope = make_event(event_type, data, producer="core-service")
    # Fixed, so the recorded interaction does not change from run to run.
    envelope["id"] = "evt_01JD000000000000000000" + f"{len(event_type):02d}" + "00"
    envelope["occurred_at"] = "2026-11-25T03:00:00Z"
    (
        pact.upon_receiving(f"a {event_type} event")
        .with_request("POST", "/internal/v1/events")
        .with_headers(JSON)
        .with_body(envelope, content_type="application/json")
        .will_respond_with(200)
        .with_body(
            {"status": match.regex("handled", regex="^(handled|duplicate)$")},
            content_type="application/json",
        )
    )
    request.getfixturevalue("serve")
    assert deliver(envelope).verdict == Verdict.DELIVERED
