"""GET /healthz (no dependency) and GET /readyz (MongoDB), including MongoDB being down."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from beanie.exceptions import CollectionWasNotInitialized
from litestar import get
from pymongo.errors import ServerSelectionTimeoutError
from support import MakeClient, assert_problem, free_port, serve

from alephdraad_contracts import NOT_READY, SERVICE_UNAVAILABLE
from alephdraad_feature import __version__
from alephdraad_feature.app import create_app
from alephdraad_feature.settings import Settings


async def test_healthz_reports_the_service(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "service": "feature-service", "version": __version__}


async def test_readyz_pings_mongodb(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"mongodb": "ok"}
    assert set(body["outbox"]) == {"pending", "dead", "oldest_pending_seconds"}


def _unreachable_settings(port: int) -> Settings:
    return Settings(
        mongodb_url=f"mongodb://127.0.0.1:{port}/?directConnection=true",
        mongodb_database="alephdraad_features_unreachable",
        mongodb_timeout_ms=300,
    )


async def test_readyz_is_503_not_ready_when_mongodb_is_unreachable() -> None:
    # Start-up must survive MongoDB being down (it only logs and retries in the background).
    app = create_app(_unreachable_settings(free_port()))
    async with serve(app) as client:
        started = time.monotonic()
        response = await client.get("/readyz")
        elapsed = time.monotonic() - started
        liveness = await client.get("/healthz")

    body = assert_problem(response, NOT_READY)
    assert body["checks"] == {"mongodb": "unreachable"}
    assert response.headers["retry-after"] == "5"
    assert elapsed < 2.0, f"readiness took {elapsed:.2f}s with MongoDB down"
    # Liveness does not depend on MongoDB.
    assert liveness.status_code == 200


async def _wait_until_ready(client: httpx.AsyncClient, deadline: float) -> httpx.Response:
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response


async def test_readyz_recovers_when_mongodb_comes_up_after_start() -> None:
    port = free_port()
    app = create_app(_unreachable_settings(port))
    async with serve(app) as client:
        assert (await client.get("/readyz")).status_code == 503
        server = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)),
            *("--storage-path", ":memory:"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            response = await _wait_until_ready(client, time.monotonic() + 15)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"mongodb": "ok"},
        "outbox": {"pending": 0, "dead": 0, "oldest_pending_seconds": None},
    }


@get("/test/database-gone", sync_to_thread=False)
def database_gone() -> None:
    raise ServerSelectionTimeoutError("No servers found yet")


@get("/test/database-never-reached", sync_to_thread=False)
def database_never_reached() -> None:
    raise CollectionWasNotInitialized("SignatureNonce")


@pytest.mark.parametrize("path", ["/test/database-gone", "/test/database-never-reached"])
async def test_a_request_while_mongodb_is_unreachable_is_503_not_500(
    make_client: MakeClient, path: str
) -> None:
    # MongoDB went away after start-up (the driver cannot select a server), or was never
    # reachable since start-up (Beanie not bound yet): not a bug and not the client's fault.
    async with make_client([database_gone, database_never_reached]) as client:
        response = await client.get(path)
    body = assert_problem(response, SERVICE_UNAVAILABLE)
    assert response.headers["retry-after"] == "5"
    assert "nothing was changed" in body["detail"]
