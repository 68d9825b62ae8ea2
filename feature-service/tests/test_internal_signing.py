"""The contracts' published signature vectors, through the feature service's own guard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from internal_support import Clock, internal_client
from litestar import route
from litestar.params import FromPath
from support import assert_problem

from alephdraad_contracts import load_signature_test_vectors, sign_request
from alephdraad_feature.internal.errors import SIGNATURE_REJECTED
from alephdraad_feature.internal.signing import require_signature
from alephdraad_feature.settings import Settings

VECTORS = load_signature_test_vectors()
ACCEPT_ALL_VECTOR_KEYS = ",".join(
    f"{key['caller']}:{key['keyid']}:{key['secret_hex']}" for key in VECTORS["keys"]
)


@route(
    "/internal/v1/{rest:path}",
    http_method=["GET", "POST"],
    guards=[require_signature],
    status_code=200,
    sync_to_thread=False,
)
def signed_echo(rest: FromPath[str]) -> dict[str, str]:
    """Test-only: the core-side paths of the vectors, behind the same guard."""
    return {"path": rest}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _target(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda vector: vector["name"])
async def test_valid_vectors_are_accepted_once(
    vector: dict[str, Any], settings: Settings, clock: Clock
) -> None:
    # The signer gives exactly the published headers...
    request = httpx.Request(
        vector["method"], vector["url"], headers=vector["headers"], content=vector["body"]
    )
    sign_request(
        request,
        caller=vector["caller"],
        keyid=vector["keyid"],
        secret=bytes.fromhex(
            next(k["secret_hex"] for k in VECTORS["keys"] if k["keyid"] == vector["keyid"])
        ),
        now=datetime.fromtimestamp(vector["created"], tz=UTC),
        nonce=vector["nonce"],
    )
    for name, value in vector["expected"].items():
        assert request.headers[name] == value
    # ...which the guard accepts at `verify_at`, then refuses as a replay.
    clock.now = datetime.fromtimestamp(vector["verify_at"], tz=UTC)
    headers = {**vector["headers"], **vector["expected"]}

    def send(client: httpx.AsyncClient) -> Any:
        return client.request(
            vector["method"], _target(vector["url"]), headers=headers, content=vector["body"]
        )

    async with internal_client(settings, clock, ACCEPT_ALL_VECTOR_KEYS, [signed_echo]) as client:
        first = await send(client)
        replay = await send(client)
    if httpx.URL(vector["url"]).path in ("/internal/v1/events", "/internal/v1/lookup"):
        # The feature service's own routes of the same paths: the signature held, the body
        # (a partial envelope, core's lookup fields) is not one they take.
        assert first.status_code == 400, first.text
    else:
        assert first.status_code == 200, first.text
    body = assert_problem(replay, SIGNATURE_REJECTED)
    assert body["reason"] == "replayed_nonce"


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda vector: vector["name"])
async def test_invalid_vectors_are_refused_with_their_reason(
    vector: dict[str, Any], settings: Settings, clock: Clock
) -> None:
    clock.now = datetime.fromtimestamp(vector["verify_at"], tz=UTC)
    async with internal_client(settings, clock, ACCEPT_ALL_VECTOR_KEYS, [signed_echo]) as client:
        response = await client.request(
            vector["method"],
            _target(vector["url"]),
            headers=vector["headers"],
            content=vector["body"],
        )
    body = assert_problem(response, SIGNATURE_REJECTED)
    assert body["reason"] == vector["reason"]
    assert vector["reason"] in body["detail"]
    assert response.headers["www-authenticate"] == "Signature"
