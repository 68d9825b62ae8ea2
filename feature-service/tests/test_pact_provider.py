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
from pathlib import Path
from typing import Any

import pytest
from internal_support import ACCEPT_KEYS, CORE_KEYID, CORE_SECRET
from support import served_feature_service

# Pact's core reports anonymous usage over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Verifier

from alephdraad_contracts.testing import SigningProxy

PACT_FILE = (
    Path(__file__).resolve().parents[2]
    / "contracts"
    / "pacts"
    / "core-service-feature-service.json"
)

# Interactions that need data name a state; the feature service holds nothing core asks about
# yet (replies and wallets arrive with later issues, and add their states here).
STATES: dict[str, Callable[[dict[str, Any]], None]] = {}


@pytest.fixture
def feature_service(tmp_path: Path, mongodb_url: str, test_database: str) -> Iterator[str]:
    with served_feature_service(
        tmp_path / "stderr.log",
        MONGODB_URL=mongodb_url,
        MONGODB_DATABASE=f"{test_database}_pact",
        FEATURE_INTERNAL_ACCEPT_KEYS=ACCEPT_KEYS,
    ) as served:
        yield served.base_url


def test_the_feature_service_honours_cores_pact(feature_service: str) -> None:
    assert PACT_FILE.exists(), f"{PACT_FILE} is missing: run `make pacts`"
    with SigningProxy(
        feature_service, caller="core-service", keyid=CORE_KEYID, secret=CORE_SECRET
    ) as proxy:
        verifier = (
            Verifier("feature-service", host="127.0.0.1")
            .add_transport(url=proxy.url)
            .add_source(PACT_FILE)
        )
        if STATES:
            verifier.state_handler(STATES, teardown=False)
        verifier.verify()
