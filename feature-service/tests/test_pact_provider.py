"""Provider verification: the feature service still honours every interaction core relies on.

The Pact verifier replays `contracts/pacts/core-service-feature-service.json` (written by
core's consumer tests) against the real service, started as operators start it
(`python -m alephdraad_feature.serve`) on a throwaway database. The verifier cannot sign, so it
talks to a `SigningProxy` that signs each request as core-service: the service's real
signature check runs on every replay. Provider states, when an interaction names one, are set
up by writing to the service's MongoDB database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from internal_support import ACCEPT_KEYS, CORE_KEYID, CORE_SECRET
from pymongo import MongoClient
from pymongo.database import Database
from support import served_feature_service

# Pact's core reports anonymous usage over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Verifier

from alephdraad_contracts.testing import SigningProxy
from alephdraad_feature.replies.services import new_reply_document

PACT_FILE = (
    Path(__file__).resolve().parents[2]
    / "contracts"
    / "pacts"
    / "core-service-feature-service.json"
)

StateHandler = Callable[[Database[dict[str, Any]], dict[str, Any]], None]


def a_reply_exists(database: Database[dict[str, Any]], parameters: dict[str, Any]) -> None:
    """A live reply `id` of thread `thread_id` by user `author_id`, as the service stores it.
    Written with replace/upsert, so setting the state up again for another interaction is
    harmless."""
    created_at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    document = new_reply_document(
        parameters["id"],
        thread_id=int(parameters["thread_id"]),
        user_id=int(parameters["author_id"]),
        username="pact_author",
        content="An answer core may accept.",
        parent_reply_id=None,
        depth=0,
        created_at=created_at,
    )
    database["replies"].replace_one({"_id": parameters["id"]}, document, upsert=True)


# Interactions that need data name a state, set up by writing to the service's database. The
# handlers take (database, parameters); the test binds the database.
STATES: dict[str, StateHandler] = {"a reply exists": a_reply_exists}


@pytest.fixture
def pact_database(mongodb_url: str, test_database: str) -> Iterator[Database[dict[str, Any]]]:
    """The service's database during verification (sync pymongo: the verifier calls state
    handlers from its own thread); dropped afterwards like the session's own database."""
    with MongoClient(mongodb_url, serverSelectionTimeoutMS=5000, tz_aware=True) as client:
        yield client[f"{test_database}_pact"]
        client.drop_database(f"{test_database}_pact")


@pytest.fixture
def feature_service(
    tmp_path: Path, mongodb_url: str, pact_database: Database[dict[str, Any]]
) -> Iterator[str]:
    with served_feature_service(
        tmp_path / "stderr.log",
        MONGODB_URL=mongodb_url,
        MONGODB_DATABASE=pact_database.name,
        FEATURE_INTERNAL_ACCEPT_KEYS=ACCEPT_KEYS,
    ) as served:
        yield served.base_url


def _bound_states(
    database: Database[dict[str, Any]],
) -> dict[str, Callable[[dict[str, Any] | None], None]]:
    def bind(handler: StateHandler) -> Callable[[dict[str, Any] | None], None]:
        def setup(parameters: dict[str, Any] | None = None) -> None:
            handler(database, parameters or {})

        return setup

    return {name: bind(handler) for name, handler in STATES.items()}


def test_the_feature_service_honours_cores_pact(
    feature_service: str, pact_database: Database[dict[str, Any]]
) -> None:
    assert PACT_FILE.exists(), f"{PACT_FILE} is missing: run `make pacts`"
    with SigningProxy(
        feature_service, caller="core-service", keyid=CORE_KEYID, secret=CORE_SECRET
    ) as proxy:
        verifier = (
            Verifier("feature-service", host="127.0.0.1")
            .add_transport(url=proxy.url)
            .add_source(PACT_FILE)
        )
        verifier.state_handler(_bound_states(pact_database), teardown=False)
        verifier.verify()
