"""A stand-in for core-service's internal listener: a real HTTP server on 127.0.0.1.

The feature service's outbound calls (lookups, session checks, commands, outbox deliveries) go
over real HTTP to it, signed by the real `CoreClient`; the stub verifies every signature with
the contracts verifier and the published `feature-service` test key, records what it received,
and answers like core would from a small programmable state:

    async def test_x(core_stub: CoreStub, make_client: MakeClient) -> None:
        core_stub.add_thread(123, author_id=456)
        core_stub.add_user(456, "alice", locked=True)
        async with make_client(**core_stub.settings_overrides()) as client:
            ...
        assert core_stub.requests_to("POST", "/internal/v1/lookup")

Built-in routes: POST /internal/v1/lookup, GET /internal/v1/sessions/{sid},
GET /internal/v1/users/{id}/device-hashes, POST /internal/v1/threads/{id}/delete,
POST /internal/v1/users/{id}/lock and POST /internal/v1/events (records envelopes, answers
`duplicate` for an id seen before). `respond()` overrides any route with a fixed answer,
`hold()` makes every request wait (until `release()`) so callers time out, `stop()` closes the
listener (the port refuses connections, like a stopped core) and `start()` reopens it on the
same port.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from alephdraad_contracts import CallerKey, KeyRing, load_signature_test_vectors
from alephdraad_contracts.testing import ReceivedRequest, SignedStubServer, StubAnswer

_VECTORS = load_signature_test_vectors()
_FEATURE_KEYS = [key for key in _VECTORS["keys"] if key["caller"] == "feature-service"]
# The key the stub accepts, and the spec to give the feature service to sign with it.
FEATURE_TEST_KEY = CallerKey(
    keyid=_FEATURE_KEYS[0]["keyid"],
    caller="feature-service",
    secret=bytes.fromhex(_FEATURE_KEYS[0]["secret_hex"]),
)
FEATURE_SIGNING_SPEC = (
    f"feature-service:{_FEATURE_KEYS[0]['keyid']}:{_FEATURE_KEYS[0]['secret_hex']}"
)
# A published feature-service key the stub does NOT accept (a key out of step with core).
UNACCEPTED_SIGNING_SPEC = (
    f"feature-service:{_FEATURE_KEYS[1]['keyid']}:{_FEATURE_KEYS[1]['secret_hex']}"
)


Answer = StubAnswer  # (status, JSON body); bytes are sent as they are; None sends nothing
Handler = Callable[[ReceivedRequest, re.Match[str]], Answer]


def _problem(status: int, code: str) -> dict[str, Any]:
    return {"type": f"urn:test:{code.lower()}", "title": code, "status": status, "code": code}


@dataclass
class CoreStub:
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    threads: dict[int, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    device_hashes: dict[int, list[str]] = field(default_factory=dict)
    # Every envelope POSTed to /internal/v1/events, duplicates included, in arrival order.
    events: list[dict[str, Any]] = field(default_factory=list)
    # Called with each event request before it is answered (e.g. a barrier); may return an
    # answer to send instead of the default.
    on_event: Callable[[ReceivedRequest], Answer | None] | None = None
    # Called (in the stub's thread) with every verified request before it is answered, while
    # the caller is waiting for the answer.
    before_answer: Callable[[ReceivedRequest], None] | None = None
    _overrides: dict[tuple[str, str], Answer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _events_changed: threading.Condition = field(default_factory=threading.Condition)
    _released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._released.set()
        self._server = SignedStubServer(
            self._answer_for,
            keys=KeyRing([FEATURE_TEST_KEY]),
            before_verify=lambda: self._released.wait(timeout=30),
        )
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/internal/v1/lookup"), self._lookup),
            ("GET", re.compile(r"/internal/v1/sessions/([^/]+)"), self._session),
            ("GET", re.compile(r"/internal/v1/users/(\d+)/device-hashes"), self._hashes),
            ("POST", re.compile(r"/internal/v1/threads/(\d+)/delete"), self._delete_thread),
            ("POST", re.compile(r"/internal/v1/users/(\d+)/lock"), self._lock_user),
            ("POST", re.compile(r"/internal/v1/events"), self._event),
        ]

    # ---- programming -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self._server.requests

    def settings_overrides(self, **more: Any) -> dict[str, Any]:
        """Settings that point the feature service at this stub, signing with the test key."""
        return {
            "feature_internal_signing_key": FEATURE_SIGNING_SPEC,
            "feature_core_internal_url": self.url,
            # Short, so a test of a hanging core does not wait out production's timeout.
            "feature_internal_timeout_seconds": 1.0,
            **more,
        }

    def add_user(
        self, user_id: int, username: str, *, locked: bool = False, deleted: bool = False
    ) -> None:
        with self._lock:
            self.users[user_id] = {"username": username, "locked": locked, "deleted": deleted}

    def add_thread(
        self,
        thread_id: int,
        *,
        author_id: int = 1,
        deleted: bool = False,
        category_slug: str = "general",
    ) -> None:
        with self._lock:
            self.threads[thread_id] = {
                "author_id": author_id,
                "deleted": deleted,
                "category_slug": category_slug,
            }

    def respond(self, method: str, path: str, status: int, body: Any = None) -> None:
        """Answer `method path` (exact path, no query) with this status and body from now on."""
        self._overrides[(method, path)] = (status, body)

    def clear_responses(self) -> None:
        self._overrides.clear()

    def hold(self) -> None:
        """Keep every request waiting (so the caller's timeout fires) until `release()`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def requests_to(self, method: str, path: str) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.split("?")[0] == path]

    def event_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(envelope["id"] for envelope in self.events)

    def wait_for_events(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least `count` event deliveries arrived (run it in a thread)."""
        with self._events_changed:
            return self._events_changed.wait_for(lambda: len(self.events) >= count, timeout)

    # ---- built-in routes ---------------------------------------------------------------------

    def _lookup(self, request: ReceivedRequest, _: re.Match[str]) -> Answer:
        body = request.json or {}
        with self._lock:
            users = {}
            for user_id in body.get("user_ids", []):
                user = self.users.get(user_id)
                users[str(user_id)] = (
                    {"exists": True, **user}
                    if user
                    else {"exists": False, "username": None, "locked": False, "deleted": False}
                )
            usernames = {}
            for name in body.get("usernames", []):
                match = next(
                    (
                        (user_id, user)
                        for user_id, user in self.users.items()
                        if user["username"].lower() == name.lower() and not user["deleted"]
                    ),
                    None,
                )
                usernames[name] = (
                    {"exists": True, "user_id": match[0], "locked": match[1]["locked"]}
                    if match
                    else {"exists": False, "user_id": None, "locked": False}
                )
            threads = {}
            for thread_id in body.get("thread_ids", []):
                thread = self.threads.get(thread_id)
                threads[str(thread_id)] = (
                    {"exists": True, **thread}
                    if thread
                    else {
                        "exists": False,
                        "deleted": False,
                        "author_id": None,
                        "category_slug": None,
                    }
                )
        return 200, {"users": users, "usernames": usernames, "threads": threads}

    def _session(self, _: ReceivedRequest, match: re.Match[str]) -> Answer:
        with self._lock:
            session = self.sessions.get(match.group(1))
        if session is None:
            return 200, {"active": False, "user_id": None}
        return 200, session

    def _hashes(self, _: ReceivedRequest, match: re.Match[str]) -> Answer:
        user_id = int(match.group(1))
        with self._lock:
            if user_id not in self.users:
                return 404, _problem(404, "USER_NOT_FOUND")
            return 200, {"hashes": self.device_hashes.get(user_id, [])}

    def _delete_thread(self, _: ReceivedRequest, match: re.Match[str]) -> Answer:
        thread_id = int(match.group(1))
        with self._lock:
            thread = self.threads.get(thread_id)
            if thread is None:
                return 404, _problem(404, "THREAD_NOT_FOUND")
            changed = not thread["deleted"]
            thread["deleted"] = True
        return 200, {"thread_id": thread_id, "deleted": True, "changed": changed}

    def _lock_user(self, request: ReceivedRequest, match: re.Match[str]) -> Answer:
        user_id = int(match.group(1))
        with self._lock:
            user = self.users.get(user_id)
            if user is None:
                return 404, _problem(404, "USER_NOT_FOUND")
            user["locked"] = True
        until = (request.json or {}).get("until")
        return 200, {"user_id": user_id, "locked": True, "until": until, "revoked_sessions": 2}

    def _event(self, request: ReceivedRequest, _: re.Match[str]) -> Answer:
        envelope = request.json
        if self.on_event is not None and (answer := self.on_event(request)) is not None:
            return answer
        with self._events_changed:
            duplicate = any(seen["id"] == envelope["id"] for seen in self.events)
            with self._lock:
                self.events.append(envelope)
            self._events_changed.notify_all()
        return 200, {"status": "duplicate" if duplicate else "handled"}

    # ---- the server --------------------------------------------------------------------------

    def _answer_for(self, request: ReceivedRequest) -> Answer:
        if self.before_answer is not None:
            self.before_answer(request)
        path = request.path.split("?")[0]
        override = self._overrides.get((request.method, path))
        if override is not None:
            return override
        for method, pattern, handler in self._routes:
            if method == request.method and (match := pattern.fullmatch(path)):
                return handler(request, match)
        return 404, _problem(404, "NOT_FOUND")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def core_stub() -> Iterator[CoreStub]:
    stub = CoreStub()
    stub.start()
    try:
        yield stub
    finally:
        stub.release()
        stub.stop()
