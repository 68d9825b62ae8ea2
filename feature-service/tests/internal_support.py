"""Signing helpers shared by the internal-listener tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar.types import ControllerRouterHandler
from support import serve

from alephdraad_contracts import EVENT_VERSIONS, new_event_id, sign_request
from alephdraad_feature.app import create_app
from alephdraad_feature.settings import Settings

CORE_KEYID = "core-test-01"
CORE_SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(32, 64))
ACCEPT_KEYS = f"core-service:{CORE_KEYID}:{CORE_SECRET.hex()}"


class Clock:
    """An injectable clock: `create_app(clock=…)` reads it; tests move it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def signed(
    method: str,
    path: str,
    *,
    body: Any = None,
    created: datetime,
    keyid: str = CORE_KEYID,
    secret: bytes = CORE_SECRET,
    caller: str = "core-service",
    request_id: str = "internal-test-0001",
) -> httpx.Request:
    """A signed request for the ASGI test client (`client.send(request)`)."""
    headers = {"X-Request-ID": request_id}
    content = b""
    if body is not None:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = httpx.Request(method, f"http://feature.test{path}", headers=headers, content=content)
    return sign_request(request, caller=caller, keyid=keyid, secret=secret, now=created)


def event(
    event_id: str | None = None,
    event_type: str = "thread.deleted",
    data: dict[str, Any] | None = None,
    *,
    version: int | None = None,
) -> dict[str, Any]:
    """An envelope as core's outbox sends it (contracts' event-envelope schema)."""
    return {
        "id": event_id or new_event_id(),
        "type": event_type,
        "version": version if version is not None else EVENT_VERSIONS.get(event_type, 1),
        "occurred_at": "2026-01-01T11:59:58Z",
        "producer": "core-service",
        "data": data if data is not None else {"thread_id": 123, "author_id": 456},
    }


@asynccontextmanager
async def internal_client(
    settings: Settings,
    clock: Clock,
    accept_keys: str = ACCEPT_KEYS,
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app accepting `accept_keys` on /internal/v1, reading time from `clock`; `overrides`
    are further settings (e.g. `core_stub.settings_overrides()`)."""
    app = create_app(
        Settings(
            **{
                **settings.model_dump(),
                "feature_internal_accept_keys": accept_keys,
                **overrides,
            }
        ),
        extra_route_handlers,
        clock=clock,
    )
    async with serve(app) as client:
        yield client
