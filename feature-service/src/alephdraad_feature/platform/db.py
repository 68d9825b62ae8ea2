"""MongoDB: one pymongo AsyncMongoClient per process, and Beanie bound to it.

The client is created in the application's lifespan (so each uvicorn worker process gets its
own, created inside its own event loop) and closed on shutdown. It lives on `app.state.mongo`.

MongoDB being down must not stop the process from starting: liveness (/healthz) does not
depend on it, and readiness (/readyz) reports it. So `init_beanie` (which talks to the server:
buildInfo, collection list, indexes) is tried once at start-up; if the server cannot be
reached, a background task retries it with backoff, and a readiness check that finds the server
back tries at once instead of waiting for the next retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from beanie import Document, init_beanie
from litestar import Litestar
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from alephdraad_feature import __version__
from alephdraad_feature.settings import SERVICE_NAME, Settings

logger = logging.getLogger("alephdraad_feature.db")

STATE_KEY = "mongo"

# A readiness probe must answer before the prober gives up (Kubernetes' default is 1 s, the
# gateway's a few seconds), even when MONGODB_TIMEOUT_MS is generous for real queries.
READINESS_PING_CAP_SECONDS = 2.0

_RETRY_FIRST_DELAY_SECONDS = 0.5
_RETRY_MAX_DELAY_SECONDS = 5.0


class MongoDatabase:
    """The process's MongoDB client, its database and the Beanie initialisation state."""

    def __init__(self, settings: Settings, document_models: Sequence[type[Document]]) -> None:
        self.timeout_seconds = settings.mongodb_timeout_seconds
        # Constructing the client does no I/O: it connects in the background on first use.
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongodb_url.get_secret_value(),
            appname=f"alephdraad-{SERVICE_NAME}/{__version__}",
            serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
            connectTimeoutMS=settings.mongodb_timeout_ms,
            # Datetimes come back timezone-aware (UTC), so nothing naive reaches a response.
            tz_aware=True,
            uuidRepresentation="standard",
        )
        self.database: AsyncDatabase[dict[str, Any]] = self.client[settings.mongodb_database]
        self.document_models: tuple[type[Document], ...] = tuple(document_models)
        self._beanie_initialised = False
        self._init_lock = asyncio.Lock()
        self._retry_task: asyncio.Task[None] | None = None

    @property
    def beanie_initialised(self) -> bool:
        return self._beanie_initialised

    async def start(self) -> None:
        """Bind Beanie now if the server answers, else keep retrying in the background."""
        if not await self.try_init_beanie():
            self._retry_task = asyncio.create_task(
                self._retry_init_beanie(), name="alephdraad-feature-init-beanie"
            )

    async def try_init_beanie(self) -> bool:
        """One attempt at `init_beanie`; False (and a warning) when MongoDB cannot be used."""
        async with self._init_lock:
            if self._beanie_initialised:
                return True
            try:
                await init_beanie(
                    database=self.database, document_models=list(self.document_models)
                )
            except PyMongoError as exc:
                logger.warning(
                    "mongodb unavailable, beanie initialisation deferred",
                    extra={"database": self.database.name, "error": f"{type(exc).__name__}"},
                )
                return False
            self._beanie_initialised = True
            logger.info(
                "beanie initialised",
                extra={
                    "database": self.database.name,
                    "document_models": [model.__name__ for model in self.document_models],
                },
            )
            return True

    async def _retry_init_beanie(self) -> None:
        delay = _RETRY_FIRST_DELAY_SECONDS
        while True:
            await asyncio.sleep(delay)
            if await self.try_init_beanie():
                return
            delay = min(delay * 2, _RETRY_MAX_DELAY_SECONDS)

    async def ping(self) -> bool:
        """Whether the server answers a `ping` within the readiness budget."""
        budget = min(self.timeout_seconds, READINESS_PING_CAP_SECONDS)
        try:
            # asyncio's deadline bounds the whole call, whatever the driver is waiting for.
            async with asyncio.timeout(budget):
                await self.client.admin.command("ping")
        except (PyMongoError, TimeoutError) as exc:
            logger.warning("mongodb ping failed", extra={"error": type(exc).__name__})
            return False
        return True

    async def readiness(self) -> str:
        """`ok`, `unreachable` or `initialising`: the `mongodb` entry of /readyz."""
        if not await self.ping():
            return "unreachable"
        if not self._beanie_initialised and not self._init_lock.locked():
            await self.try_init_beanie()
        return "ok" if self._beanie_initialised else "initialising"

    async def close(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        await self.client.close()


def mongo_lifespan(
    settings: Settings, document_models: Sequence[type[Document]]
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan hook owning the process's `MongoDatabase`."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        mongo = MongoDatabase(settings, document_models)
        app.state[STATE_KEY] = mongo
        try:
            await mongo.start()
            yield
        finally:
            await mongo.close()
            del app.state[STATE_KEY]

    return lifespan


def get_mongo(app: Litestar) -> MongoDatabase:
    """The running app's database handle (only inside the lifespan)."""
    mongo = app.state.get(STATE_KEY)
    if not isinstance(mongo, MongoDatabase):
        raise RuntimeError("MongoDB is not set up: the application lifespan has not started")
    return mongo


def collection_in_session(
    document: type[Document], session: AsyncClientSession
) -> AsyncCollection[dict[str, Any]]:
    """`document`'s collection reached through the client that owns `session`.

    A session (and its transaction) only works with the client that started it, while Beanie's
    `get_pymongo_collection()` is whatever client `init_beanie` last bound: the same one in a
    served process, but not always in a command or a test that runs several. Writes that must
    join the caller's transaction go through this."""
    bound = document.get_pymongo_collection()
    return session.client[bound.database.name][bound.name]
