"""Helpers shared by the replies tests: unique ids per test (every test shares the session's
database), a clock that moves forward on every read, direct inserts of reply documents, and
the app wired to the core stub."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from auth_support import admin_token, bearer, user_token
from core_stub import CoreStub
from support import MakeClient

from alephdraad_contracts import new_ulid
from alephdraad_feature.replies.services import new_reply_document

# Thread and user ids no other test module uses: each test takes fresh ones.
_IDS = itertools.count(random.randrange(10**9, 2 * 10**9) * 1000)


def fresh_id() -> int:
    return next(_IDS)


def path(thread_id: int, reply_id: str | None = None) -> str:
    base = f"/api/v1/threads/{thread_id}/replies"
    return base if reply_id is None else f"{base}/{reply_id}"


class TickingClock:
    """An injectable clock (`create_app(clock=…)`) that moves 1 ms forward on every read, so
    replies made one after another have increasing times, as in real life; `advance()` jumps."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Member:
    """A user known to the core stub, with a valid access token."""

    def __init__(self, core_stub: CoreStub, name: str | None = None, **state: Any) -> None:
        self.id = fresh_id()
        self.name = name or f"user_{self.id}"
        core_stub.add_user(self.id, self.name, **state)
        self.headers = bearer(user_token(self.id, self.name))


def admin_headers(admin_id: int = 1) -> dict[str, str]:
    return bearer(admin_token(admin_id))


@asynccontextmanager
async def replies_client(
    make_client: MakeClient, core_stub: CoreStub, clock: TickingClock, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(clock=clock, **core_stub.settings_overrides(**overrides)) as client:
        yield client


def reply_document(
    thread_id: int,
    *,
    user_id: int = 7,
    username: str | None = "someone",
    content: str = "text",
    created_at: datetime,
    parent: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A `replies` document as the service writes it (for direct bulk inserts)."""
    created_at = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
    document = new_reply_document(
        "rpl_" + new_ulid(created_at),
        thread_id=thread_id,
        user_id=user_id,
        username=username,
        content=content,
        parent_reply_id=parent["_id"] if parent else None,
        depth=parent["depth"] + 1 if parent else 0,
        created_at=created_at,
    )
    return {**document, **fields}
