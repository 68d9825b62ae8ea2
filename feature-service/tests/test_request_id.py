"""X-Request-ID: accepted, minted or replaced; echoed on every response; one JSON log line each."""

from __future__ import annotations

import pytest
from litestar import get
from support import GENERATED_REQUEST_ID, JsonLog, MakeClient


@get("/test/crash-request-id")
async def crash() -> None:
    raise RuntimeError("boom")


async def test_a_valid_incoming_id_is_echoed(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "gw-1234.abc:def_9"})
    assert response.headers["x-request-id"] == "gw-1234.abc:def_9"


@pytest.mark.parametrize(
    "path", ["/healthz", "/nowhere", "/test/crash-request-id", "/docs/feature/openapi.json"]
)
async def test_an_id_is_minted_when_absent_on_every_kind_of_response(
    make_client: MakeClient, path: str
) -> None:
    async with make_client([crash]) as client:
        response = await client.get(path)
    assert GENERATED_REQUEST_ID.fullmatch(response.headers["x-request-id"])
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


@pytest.mark.parametrize("invalid", [b"has spaces", b"x" * 129, b"semi;colon", "ünïcode".encode()])
async def test_an_invalid_id_is_replaced(make_client: MakeClient, invalid: bytes) -> None:
    async with make_client() as client:
        response = await client.get("/nowhere", headers={"X-Request-ID": invalid})
    minted = response.headers["x-request-id"]
    assert GENERATED_REQUEST_ID.fullmatch(minted)
    assert response.json()["request_id"] == minted


async def test_ids_are_per_request(make_client: MakeClient) -> None:
    async with make_client() as client:
        first = await client.get("/healthz")
        second = await client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_one_json_log_line_per_request(make_client: MakeClient, json_log: JsonLog) -> None:
    async with make_client([crash]) as client:
        await client.get("/healthz", headers={"X-Request-ID": "log-ok"})
        await client.post("/nowhere", headers={"X-Request-ID": "log-404"})
        await client.get("/test/crash-request-id", headers={"X-Request-ID": "log-500"})

    lines = json_log.requests()
    assert [
        (line["request_id"], line["method"], line["path"], line["status"]) for line in lines
    ] == [
        ("log-ok", "GET", "/healthz", 200),
        ("log-404", "POST", "/nowhere", 404),
        ("log-500", "GET", "/test/crash-request-id", 500),
    ]
    for line in lines:
        assert line["service"] == "feature-service"
        assert line["level"] == "info"
        assert line["logger"] == "alephdraad_feature.access"
        assert isinstance(line["duration_ms"], float)
        assert 0 <= line["duration_ms"] < 10_000
