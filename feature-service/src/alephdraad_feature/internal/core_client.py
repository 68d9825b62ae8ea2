"""Calls the feature service makes to core-service's internal listener (DESIGN section 5).

One `CoreClient` per process: it owns one pooled, signing httpx client (contracts'
`async_signed_client`, keep-alive connections) and the lookup cache. The application creates it
in its lifespan (`core_client_lifespan`) and closes it at shutdown; handlers declare a
`core_client: NamedDependency[CoreClient]` parameter (an app-level dependency) or call
`get_core_client(app)`.
The dispatcher and the `manage` commands build their own with `CoreClient.from_settings`.

Every way a call can fail to produce a usable answer (no signing key configured, connection
refused, timeout, a 5xx, our signature refused with 401/403, 429, a body that is not the
agreed shape) raises `UpstreamUnavailable`, a 503 with `Retry-After`: a write that depends on
core's answer fails closed and writes nothing. A 404 that means something (the thread or user
does not exist) raises that domain's error instead.

Lookup cache: `lookup()` answers from an in-process TTL cache first and asks core only for the
ids it does not hold, in one call. Positive answers (the user or thread exists and is not
deleted) live FEATURE_LOOKUP_CACHE_SECONDS, negative ones FEATURE_LOOKUP_NEGATIVE_CACHE_SECONDS.
Each process of each replica has its own cache, and an event from core reaches only one of them;
that is why entries live seconds, not minutes, and why the event handlers drop what they can
(`invalidate_user`, `invalidate_thread`, `invalidate_username`).
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict, TypeVar
from urllib.parse import quote

import httpx
from litestar import Litestar
from litestar.datastructures import State
from pydantic import BaseModel, ConfigDict, ValidationError

from alephdraad_contracts import REQUEST_ID_HEADER, CallerKey, async_signed_client
from alephdraad_feature.internal.errors import (
    ThreadNotFound,
    UpstreamUnavailable,
    UserNotFound,
)
from alephdraad_feature.platform.errors import DomainError
from alephdraad_feature.settings import Settings

logger = logging.getLogger("alephdraad_feature.core_client")

STATE_KEY = "core_client"
# Core's limit per id list of POST /internal/v1/lookup.
LOOKUP_BATCH_LIMIT = 100
# Enough for every id a busy process touches in a few seconds; beyond it the oldest go first.
DEFAULT_CACHE_ENTRIES = 10_000
# Connecting is quick or not happening; the rest of FEATURE_INTERNAL_TIMEOUT_SECONDS is for core
# to answer.
_CONNECT_TIMEOUT_SECONDS = 2.0
# Statuses that say "not now" rather than "never": the call may succeed when repeated.
TRANSIENT_CLIENT_STATUSES = frozenset({401, 403, 408, 409, 425, 429})
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class Actor(TypedDict):
    """Who a command to core is done for: `{"kind": "admin"|"service"|"user", "id": …}`."""

    kind: Literal["admin", "service", "user"]
    id: int | str


# ---- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserState:
    user_id: int
    exists: bool
    username: str | None = None
    locked: bool = False
    deleted: bool = False

    @property
    def live(self) -> bool:
        """The account exists and is not deleted (it may be locked)."""
        return self.exists and not self.deleted


@dataclass(frozen=True, slots=True)
class UsernameState:
    username: str
    exists: bool
    user_id: int | None = None
    locked: bool = False

    @property
    def live(self) -> bool:
        return self.exists


@dataclass(frozen=True, slots=True)
class ThreadState:
    thread_id: int
    exists: bool
    deleted: bool = False
    author_id: int | None = None
    category_slug: str | None = None

    @property
    def live(self) -> bool:
        """The thread exists and is not soft-deleted: things may hang on it."""
        return self.exists and not self.deleted


@dataclass(frozen=True, slots=True)
class CoreLookup:
    """core's answer about every id asked for; `usernames` is keyed in lower case."""

    users: Mapping[int, UserState]
    usernames: Mapping[str, UsernameState]
    threads: Mapping[int, ThreadState]

    def user(self, user_id: int) -> UserState:
        return self.users[user_id]

    def username(self, name: str) -> UsernameState:
        return self.usernames[name.lower()]

    def thread(self, thread_id: int) -> ThreadState:
        return self.threads[thread_id]


@dataclass(frozen=True, slots=True)
class SessionState:
    session_id: str
    active: bool
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ThreadDeletion:
    thread_id: int
    deleted: bool
    # False when the thread was already deleted (the command is idempotent).
    changed: bool


@dataclass(frozen=True, slots=True)
class UserLock:
    user_id: int
    locked: bool
    until: datetime | None
    revoked_sessions: int


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of one event sent to core's POST /internal/v1/events.

    `delivered`: acknowledged (handled or a duplicate). `dead`: refused for good (a 4xx about
    the event itself). `retry`: try again later; `unreachable` says core could not be reached at
    all, so the rest of the dispatcher's pass would fail the same way."""

    result: Literal["delivered", "retry", "dead"]
    detail: str
    status_code: int | None = None
    unreachable: bool = False


# ---- wire shapes (what core answers); anything else is a malformed answer -------------------


class _Wire(BaseModel):
    # Core may add fields (a backwards-compatible change); we read only what we know.
    model_config = ConfigDict(extra="ignore", strict=False)


class _UserWire(_Wire):
    exists: bool
    username: str | None = None
    locked: bool = False
    deleted: bool = False


class _UsernameWire(_Wire):
    exists: bool
    user_id: int | None = None
    locked: bool = False


class _ThreadWire(_Wire):
    exists: bool
    deleted: bool = False
    author_id: int | None = None
    category_slug: str | None = None


_WireT = TypeVar("_WireT", bound=_Wire)


class _LookupWire(_Wire):
    users: dict[str, _UserWire] = {}
    usernames: dict[str, _UsernameWire] = {}
    threads: dict[str, _ThreadWire] = {}


class _SessionWire(_Wire):
    active: bool
    user_id: int | None = None


class _DeviceHashesWire(_Wire):
    hashes: list[str]


class _ThreadDeletionWire(_Wire):
    thread_id: int
    deleted: bool
    changed: bool


class _UserLockWire(_Wire):
    user_id: int
    locked: bool
    until: datetime | None = None
    revoked_sessions: int = 0


# ---- the cache ---------------------------------------------------------------------------------

_CacheKey = tuple[str, int | str]
_CacheValue = UserState | UsernameState | ThreadState

# Every live cache of the process, so an event handler (which does not know which application
# object received the event) can drop an id from all of them. In a served process there is one.
_LIVE_CACHES: weakref.WeakSet[LookupCache] = weakref.WeakSet()


class LookupCache:
    """A bounded in-process TTL cache of core's lookup answers, keyed per id.

    Not shared between processes or replicas (see the module docstring). `clock` returns
    seconds on any monotonic scale; tests pass their own instead of sleeping."""

    def __init__(
        self,
        *,
        positive_seconds: float,
        negative_seconds: float,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.positive_seconds = positive_seconds
        self.negative_seconds = negative_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[_CacheKey, tuple[float, _CacheValue]] = OrderedDict()
        # Bumped by every invalidation: an answer that was in flight while an event dropped
        # entries may predate the change, so it is not stored (see CoreClient.lookup).
        self.generation = 0
        _LIVE_CACHES.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: _CacheKey) -> _CacheValue | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return value

    def put(self, key: _CacheKey, value: _CacheValue) -> None:
        ttl = self.positive_seconds if value.live else self.negative_seconds
        if ttl <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate_user(self, user_id: int) -> None:
        """Drop the user and every username entry that named them."""
        self.generation += 1
        self._entries.pop(("user", user_id), None)
        stale = [
            key
            for key, (_, value) in self._entries.items()
            if isinstance(value, UsernameState) and value.user_id == user_id
        ]
        for key in stale:
            del self._entries[key]

    def invalidate_username(self, username: str) -> None:
        self.generation += 1
        self._entries.pop(("username", username.lower()), None)

    def invalidate_thread(self, thread_id: int) -> None:
        self.generation += 1
        self._entries.pop(("thread", thread_id), None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


def invalidate_user(user_id: int) -> None:
    """Drop `user_id` from every lookup cache of this process (event handlers use this)."""
    for cache in list(_LIVE_CACHES):
        cache.invalidate_user(user_id)


def invalidate_username(username: str) -> None:
    for cache in list(_LIVE_CACHES):
        cache.invalidate_username(username)


def invalidate_thread(thread_id: int) -> None:
    for cache in list(_LIVE_CACHES):
        cache.invalidate_thread(thread_id)


# ---- the client -------------------------------------------------------------------------------


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _problem_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


class CoreClient:
    """Signed calls to core-service's /internal/v1 (see the module docstring)."""

    def __init__(
        self,
        *,
        base_url: str,
        signing_key: CallerKey | None,
        timeout_seconds: float,
        cache: LookupCache,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.cache = cache
        self._http: httpx.AsyncClient | None = None
        if signing_key is not None:
            self._http = async_signed_client(
                base_url,
                caller=signing_key.caller,
                keyid=signing_key.keyid,
                secret=signing_key.secret,
                timeout=httpx.Timeout(
                    timeout_seconds, connect=min(_CONNECT_TIMEOUT_SECONDS, timeout_seconds)
                ),
                transport=transport,
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        cached: bool = True,
    ) -> CoreClient:
        """The client the settings describe. `cached=False` (reconcile) always asks core."""
        cache = LookupCache(
            positive_seconds=settings.feature_lookup_cache_seconds if cached else 0,
            negative_seconds=settings.feature_lookup_negative_cache_seconds if cached else 0,
            clock=clock,
        )
        return cls(
            base_url=settings.feature_core_internal_url,
            signing_key=settings.internal_signing_key,
            timeout_seconds=settings.feature_internal_timeout_seconds,
            cache=cache,
        )

    @property
    def configured(self) -> bool:
        """Whether outbound calls can be made at all (FEATURE_INTERNAL_SIGNING_KEY is set)."""
        return self._http is not None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    # This client's cache only; event handlers use the module functions of the same names,
    # which reach every cache of the process.
    def invalidate_user(self, user_id: int) -> None:
        self.cache.invalidate_user(user_id)

    def invalidate_username(self, username: str) -> None:
        self.cache.invalidate_username(username)

    def invalidate_thread(self, thread_id: int) -> None:
        self.cache.invalidate_thread(thread_id)

    # -- plumbing ---------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, *, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """One signed request; raises `UpstreamUnavailable` when core could not be asked."""
        if self._http is None:
            logger.error("call to core impossible: FEATURE_INTERNAL_SIGNING_KEY is not set")
            raise UpstreamUnavailable()
        try:
            return await self._http.request(
                method, f"/internal/v1{path}", json=json, headers=dict(headers or {})
            )
        except httpx.HTTPError as error:
            logger.warning(
                "core-service unreachable",
                extra={"path": path, "error": type(error).__name__},
            )
            raise UpstreamUnavailable() from None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        not_found: Mapping[str, type[DomainError]] | None = None,
    ) -> Any:
        """The decoded 2xx body; a meaningful 404 raises its domain error, the rest 503."""
        response = await self._send(method, path, json=json)
        if response.status_code == 404 and not_found:
            error = not_found.get(_problem_code(response) or "")
            if error is not None:
                raise error()
        return self._decode(response, path)

    @staticmethod
    def _decode(response: httpx.Response, path: str) -> Any:
        if not 200 <= response.status_code < 300:
            # 401/403: our signature was refused (keys out of step), a fault the end user
            # cannot fix either; another 4xx about our request is our bug. The log says which.
            logger.warning(
                "core-service refused an internal call",
                extra={"path": path, "status": response.status_code, "body": response.text[:500]},
            )
            raise UpstreamUnavailable()
        try:
            return response.json()
        except ValueError:
            logger.warning("core-service answered malformed JSON", extra={"path": path})
            raise UpstreamUnavailable() from None

    @staticmethod
    def _parse(model: type[_WireT], body: Any, path: str) -> _WireT:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            logger.warning(
                "core-service answered an unexpected shape",
                extra={"path": path, "error": str(exc)[:500]},
            )
            raise UpstreamUnavailable() from None

    # -- reads ------------------------------------------------------------------------------

    async def lookup(
        self,
        *,
        user_ids: Iterable[int] = (),
        usernames: Iterable[str] = (),
        thread_ids: Iterable[int] = (),
    ) -> CoreLookup:
        """What core says about these ids, from the cache where it can; one call for the rest.

        Raises `UpstreamUnavailable` when an id is not cached and core cannot answer."""
        wanted_users = _unique(user_ids)
        wanted_names = _unique(name.lower() for name in usernames)
        wanted_threads = _unique(thread_ids)
        users: dict[int, UserState] = {}
        names: dict[str, UsernameState] = {}
        threads: dict[int, ThreadState] = {}
        for user_id in wanted_users:
            if isinstance(cached := self.cache.get(("user", user_id)), UserState):
                users[user_id] = cached
        for name in wanted_names:
            if isinstance(cached := self.cache.get(("username", name)), UsernameState):
                names[name] = cached
        for thread_id in wanted_threads:
            if isinstance(cached := self.cache.get(("thread", thread_id)), ThreadState):
                threads[thread_id] = cached
        missing_users = [i for i in wanted_users if i not in users]
        missing_names = [n for n in wanted_names if n not in names]
        missing_threads = [i for i in wanted_threads if i not in threads]
        if missing_users or missing_names or missing_threads:
            generation = self.cache.generation
            fetched = await self._fetch_lookup(missing_users, missing_names, missing_threads)
            # An invalidation while the call was in flight may have been about an answer we
            # are holding: use it for this request, but do not keep it.
            keep = generation == self.cache.generation
            for user_state in fetched.users.values():
                users[user_state.user_id] = user_state
                if keep:
                    self.cache.put(("user", user_state.user_id), user_state)
            for key, name_state in fetched.usernames.items():
                names[key] = name_state
                if keep:
                    self.cache.put(("username", key), name_state)
            for thread_state in fetched.threads.values():
                threads[thread_state.thread_id] = thread_state
                if keep:
                    self.cache.put(("thread", thread_state.thread_id), thread_state)
        return CoreLookup(users=users, usernames=names, threads=threads)

    async def _fetch_lookup(
        self, user_ids: list[int], usernames: list[str], thread_ids: list[int]
    ) -> CoreLookup:
        users: dict[int, UserState] = {}
        names: dict[str, UsernameState] = {}
        threads: dict[int, ThreadState] = {}
        # One call carries up to 100 ids of each kind (core's limit); more need more calls.
        rounds = max(
            (len(ids) + LOOKUP_BATCH_LIMIT - 1) // LOOKUP_BATCH_LIMIT
            for ids in (user_ids, usernames, thread_ids)
        )
        for index in range(rounds):
            window = slice(index * LOOKUP_BATCH_LIMIT, (index + 1) * LOOKUP_BATCH_LIMIT)
            batch_users, batch_names, batch_threads = (
                user_ids[window],
                usernames[window],
                thread_ids[window],
            )
            body: dict[str, list[Any]] = {}
            if batch_users:
                body["user_ids"] = batch_users
            if batch_names:
                body["usernames"] = batch_names
            if batch_threads:
                body["thread_ids"] = batch_threads
            answer = self._parse(
                _LookupWire, await self._call("POST", "/lookup", json=body), "/lookup"
            )
            answered_names = {name.lower(): state for name, state in answer.usernames.items()}
            try:
                for user_id in batch_users:
                    user = answer.users[str(user_id)]
                    users[user_id] = UserState(
                        user_id=user_id,
                        exists=user.exists,
                        username=user.username,
                        locked=user.locked,
                        deleted=user.deleted,
                    )
                for name in batch_names:
                    named = answered_names[name]
                    names[name] = UsernameState(
                        username=name,
                        exists=named.exists,
                        user_id=named.user_id,
                        locked=named.locked,
                    )
                for thread_id in batch_threads:
                    thread = answer.threads[str(thread_id)]
                    threads[thread_id] = ThreadState(
                        thread_id=thread_id,
                        exists=thread.exists,
                        deleted=thread.deleted,
                        author_id=thread.author_id,
                        category_slug=thread.category_slug,
                    )
            except KeyError as missing:
                # An id core did not answer about: we cannot tell it exists, so fail closed.
                logger.warning(
                    "core-service lookup left out %s", missing, extra={"path": "/lookup"}
                )
                raise UpstreamUnavailable() from None
        return CoreLookup(users=users, usernames=names, threads=threads)

    async def session_state(self, session_id: str) -> SessionState:
        """Whether core still considers the session active (never cached: revocation must bite
        at once for money-moving actions)."""
        if not _SESSION_ID.fullmatch(session_id):
            # Cannot be a session id core issued; no need to ask.
            return SessionState(session_id=session_id, active=False)
        path = f"/sessions/{quote(session_id, safe='')}"
        response = await self._send("GET", path)
        if response.status_code == 404 and _problem_code(response) == "SESSION_NOT_FOUND":
            return SessionState(session_id=session_id, active=False)
        answer = self._parse(_SessionWire, self._decode(response, path), path)
        return SessionState(session_id=session_id, active=answer.active, user_id=answer.user_id)

    async def device_hashes(self, user_id: int) -> list[str]:
        """The device fingerprints core recorded for the user (404 USER_NOT_FOUND)."""
        path = f"/users/{int(user_id)}/device-hashes"
        body = await self._call("GET", path, not_found={"USER_NOT_FOUND": UserNotFound})
        return list(self._parse(_DeviceHashesWire, body, path).hashes)

    # -- commands ---------------------------------------------------------------------------

    async def delete_thread(self, thread_id: int, *, reason: str, actor: Actor) -> ThreadDeletion:
        """Ask core to soft-delete a thread (moderation). Idempotent on core's side."""
        path = f"/threads/{int(thread_id)}/delete"
        body = await self._call(
            "POST",
            path,
            json={"reason": reason, "actor": dict(actor)},
            not_found={"THREAD_NOT_FOUND": ThreadNotFound},
        )
        answer = self._parse(_ThreadDeletionWire, body, path)
        # Our own command changed core's answer: do not serve the old one from the cache.
        self.cache.invalidate_thread(thread_id)
        return ThreadDeletion(
            thread_id=answer.thread_id, deleted=answer.deleted, changed=answer.changed
        )

    async def lock_user(
        self, user_id: int, *, reason: str, until: datetime | None, actor: Actor
    ) -> UserLock:
        """Ask core to lock a user (moderation); core revokes their sessions."""
        path = f"/users/{int(user_id)}/lock"
        body = await self._call(
            "POST",
            path,
            json={
                "reason": reason,
                "until": until.isoformat().replace("+00:00", "Z") if until else None,
                "actor": dict(actor),
            },
            not_found={"USER_NOT_FOUND": UserNotFound},
        )
        answer = self._parse(_UserLockWire, body, path)
        self.cache.invalidate_user(user_id)
        return UserLock(
            user_id=answer.user_id,
            locked=answer.locked,
            until=answer.until,
            revoked_sessions=answer.revoked_sessions,
        )

    async def deliver_event(
        self, envelope: Mapping[str, Any], *, request_id: str | None = None
    ) -> DeliveryOutcome:
        """POST one outbox event to core; never raises for what core answers (see
        `DeliveryOutcome`). `request_id` is the request that caused the event, so both
        services' logs of its delivery carry it."""
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        try:
            response = await self._send("POST", "/events", json=dict(envelope), headers=headers)
        except UpstreamUnavailable:
            detail = (
                "FEATURE_INTERNAL_SIGNING_KEY is not set"
                if not self.configured
                else "core-service unreachable"
            )
            return DeliveryOutcome("retry", detail, unreachable=True)
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryOutcome("delivered", f"{status} {response.text[:200]}", status)
        detail = f"{status} {response.text[:500]}"
        if 400 <= status < 500 and status not in TRANSIENT_CLIENT_STATUSES:
            return DeliveryOutcome("dead", detail, status)
        return DeliveryOutcome("retry", detail, status)


# ---- wiring into the application ---------------------------------------------------------------


def core_client_lifespan(
    settings: Settings, clock: Callable[[], datetime] | None = None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan hook owning the process's `CoreClient` (on `app.state`).

    `clock` is the application's injected clock; the cache then reads time from it, so tests
    expire entries by moving it."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        cache_clock = (lambda: clock().timestamp()) if clock is not None else time.monotonic
        client = CoreClient.from_settings(settings, clock=cache_clock)
        app.state[STATE_KEY] = client
        try:
            yield
        finally:
            del app.state[STATE_KEY]
            await client.aclose()

    return lifespan


def get_core_client(app: Litestar) -> CoreClient:
    """The running app's core client (only inside the lifespan)."""
    client = app.state.get(STATE_KEY)
    if not isinstance(client, CoreClient):
        raise RuntimeError(
            "the core client is not set up: the application lifespan has not started"
        )
    return client


def provide_core_client(state: State) -> CoreClient:
    """Litestar dependency: declare `core_client: NamedDependency[CoreClient]` on a handler."""
    client = state.get(STATE_KEY)
    if not isinstance(client, CoreClient):
        raise RuntimeError(
            "the core client is not set up: the application lifespan has not started"
        )
    return client
