"""Helpers of the reactions and thread-stats tests: fresh core ids, direct reads of what is
stored, and a MongoDB command counter for query budgets."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from auth_support import bearer, user_token
from core_stub import CoreStub
from internal_support import Clock
from pymongo import monitoring
from support import MakeClient

from alephdraad_feature.platform.db import MongoDatabase

LOOKUP = "/internal/v1/lookup"

# The test database lives for the whole session and other tests write to it too: every test
# takes thread and user ids of its own, so what it finds stored is its own.
_IDS = itertools.count(random.randint(10**9, 2 * 10**9) * 1000)


def new_id() -> int:
    return next(_IDS)


def path(thread_id: int | str) -> str:
    return f"/api/v1/threads/{thread_id}/reactions"


def auth(user_id: int) -> dict[str, str]:
    return bearer(user_token(user_id, f"user{user_id}"))


@dataclass
class World:
    """An app talking to the core stub, a thread core knows and two active members."""

    client: httpx.AsyncClient
    core: CoreStub
    clock: Clock
    thread_id: int
    alice: int
    bob: int

    async def put(
        self, reaction_type: Any, user_id: int | None = None, *, thread_id: int | None = None
    ) -> httpx.Response:
        return await self.client.put(
            path(thread_id or self.thread_id),
            json={"type": reaction_type},
            headers=auth(user_id or self.alice),
        )

    async def delete(
        self, user_id: int | None = None, *, thread_id: int | None = None
    ) -> httpx.Response:
        return await self.client.delete(
            path(thread_id or self.thread_id), headers=auth(user_id or self.alice)
        )

    async def get(self, user_id: int | None = None, *, thread_id: int | None = None) -> Any:
        headers = auth(user_id) if user_id is not None else {}
        return await self.client.get(path(thread_id or self.thread_id), headers=headers)

    def lookups(self) -> int:
        return len(self.core.requests_to("POST", LOOKUP))


MakeWorld = Callable[..., AbstractAsyncContextManager[World]]


def world_factory(make_client: MakeClient, core_stub: CoreStub) -> MakeWorld:
    """`async with make_world(**settings) as world:` (a context manager, not a fixture that
    yields the app: the app's lifespan must start and end in the test's own task)."""

    @asynccontextmanager
    async def make_world(**overrides: Any) -> AsyncIterator[World]:
        thread_id, alice, bob = new_id(), new_id(), new_id()
        core_stub.add_thread(thread_id, author_id=bob)
        core_stub.add_user(alice, "alice")
        core_stub.add_user(bob, "bob")
        clock = Clock()
        async with make_client(clock=clock, **core_stub.settings_overrides(**overrides)) as client:
            yield World(client, core_stub, clock, thread_id, alice, bob)

    return make_world


class CommandCounter(monitoring.CommandListener):
    """Records the commands sent to one database while `counting()` is open.

    Registered globally (pymongo attaches global listeners to clients created afterwards), so
    it sees the application's own client, created in the app's lifespan during a test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._database: str | None = None
        self.commands: list[str] = []
        # codeName of every command that failed (any database) while counting.
        self.failures: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        with self._lock:
            if self._database is not None and event.database_name == self._database:
                self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        with self._lock:
            if self._database is not None:
                self.failures.append(str(event.failure.get("codeName") or event.failure))

    @contextmanager
    def counting(self, database: str) -> Iterator[list[str]]:
        with self._lock:
            self._database = database
            self.commands = []
            self.failures = []
        try:
            yield self.commands
        finally:
            with self._lock:
                self._database = None


COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


async def stored_reactions(mongo: MongoDatabase, thread_id: int) -> list[dict[str, Any]]:
    cursor = mongo.database["reactions"].find({"threadId": str(thread_id)}).sort("userId", 1)
    return await cursor.to_list()


async def stored_stats(mongo: MongoDatabase, thread_id: int) -> dict[str, Any] | None:
    return await mongo.database["thread_stats"].find_one({"_id": thread_id})


async def stored_counts(mongo: MongoDatabase, thread_id: int) -> dict[str, int]:
    """`reactionCounts` of the thread without zero entries, plus `reactionTotal` as `_total`."""
    stats = await stored_stats(mongo, thread_id) or {}
    counts = {k: v for k, v in (stats.get("reactionCounts") or {}).items() if v}
    return {**counts, "_total": stats.get("reactionTotal", 0)}


async def counted_from_reactions(mongo: MongoDatabase, thread_id: int) -> dict[str, int]:
    """What the counters should say, aggregated from the reactions actually stored."""
    reactions = await stored_reactions(mongo, thread_id)
    counts = Counter(reaction["type"] for reaction in reactions)
    return {**counts, "_total": len(reactions)}


def summary(mine: str | None = None, **counts: int) -> dict[str, Any]:
    """The body GET/PUT …/reactions should answer."""
    every = {"like": 0, "love": 0, "fire": 0, "sad": 0, "laugh": 0, **counts}
    return {"counts": every, "total": sum(every.values()), "mine": mine}
