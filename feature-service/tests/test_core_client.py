"""CoreClient against a real HTTP stub of core: answers, the lookup cache, and every failure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from core_stub import UNACCEPTED_SIGNING_SPEC, CoreStub

from alephdraad_contracts import new_event_id
from alephdraad_feature.internal.core_client import (
    Actor,
    CoreClient,
    LookupCache,
    ThreadState,
    UsernameState,
    UserState,
    invalidate_thread,
    invalidate_user,
    invalidate_username,
)
from alephdraad_feature.internal.errors import (
    ThreadNotFound,
    UpstreamUnavailable,
    UserNotFound,
)
from alephdraad_feature.settings import Settings

LOOKUP = "/internal/v1/lookup"


class Seconds:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


@pytest.fixture
def make_core_client(
    settings: Settings, core_stub: CoreStub, seconds: Seconds
) -> Callable[..., Any]:
    @asynccontextmanager
    async def _make(**overrides: Any) -> AsyncIterator[CoreClient]:
        client = CoreClient.from_settings(
            Settings(**{**settings.model_dump(), **core_stub.settings_overrides(**overrides)}),
            clock=seconds,
        )
        try:
            yield client
        finally:
            await client.aclose()

    return _make


def _lookup_bodies(stub: CoreStub) -> list[dict[str, Any]]:
    return [request.json for request in stub.requests_to("POST", LOOKUP)]


# ---- answers --------------------------------------------------------------------------------


async def test_lookup_answers_typed_states_in_one_signed_call(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.add_user(456, "Alice", locked=True)
    core_stub.add_user(457, "gone", deleted=True)
    core_stub.add_thread(123, author_id=456, category_slug="python")
    core_stub.add_thread(124, deleted=True)
    async with make_core_client() as client:
        lookup = await client.lookup(
            user_ids=[456, 457, 999, 456],
            usernames=["ALICE", "nobody"],
            thread_ids=[123, 124, 125],
        )
    assert lookup.user(456) == UserState(
        user_id=456, exists=True, username="Alice", locked=True, deleted=False
    )
    assert (lookup.user(457).exists, lookup.user(457).deleted, lookup.user(457).live) == (
        True,
        True,
        False,
    )
    assert lookup.user(999) == UserState(user_id=999, exists=False)
    # Usernames are case-insensitive: asked in lower case, found in any case.
    assert lookup.username("alice") == UsernameState(
        username="alice", exists=True, user_id=456, locked=True
    )
    assert lookup.username("Nobody").exists is False
    assert lookup.thread(123) == ThreadState(
        thread_id=123, exists=True, deleted=False, author_id=456, category_slug="python"
    )
    assert lookup.thread(124).live is False
    assert lookup.thread(125).exists is False
    # One call, duplicates removed, usernames lower-cased; it carried a verified signature.
    assert _lookup_bodies(core_stub) == [
        {
            "user_ids": [456, 457, 999],
            "usernames": ["alice", "nobody"],
            "thread_ids": [123, 124, 125],
        }
    ]
    request = core_stub.requests_to("POST", LOOKUP)[0]
    assert request.headers["X-Alephdraad-Caller"] == "feature-service"


async def test_more_than_100_ids_take_several_calls_of_at_most_100(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    async with make_core_client() as client:
        lookup = await client.lookup(thread_ids=range(1, 251), user_ids=[7])
    assert len(lookup.threads) == 250
    bodies = _lookup_bodies(core_stub)
    assert [len(body["thread_ids"]) for body in bodies] == [100, 100, 50]
    assert [body.get("user_ids") for body in bodies] == [[7], None, None]


async def test_session_state_device_hashes_and_commands(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.add_user(456, "alice")
    core_stub.add_thread(123, author_id=456)
    core_stub.sessions["0b7c6f1e-5b3a-4b1e-9d2f-3c4a5b6c7d8e"] = {"active": True, "user_id": 456}
    core_stub.device_hashes[456] = ["a" * 64]
    actor: Actor = {"kind": "admin", "id": 1}
    async with make_core_client() as client:
        active = await client.session_state("0b7c6f1e-5b3a-4b1e-9d2f-3c4a5b6c7d8e")
        unknown = await client.session_state("11111111-2222-3333-4444-555555555555")
        # Cannot be a session id: answered without a call.
        odd = await client.session_state("../../etc")
        hashes = await client.device_hashes(456)
        deletion = await client.delete_thread(123, reason="spam", actor=actor)
        again = await client.delete_thread(123, reason="spam", actor=actor)
        lock = await client.lock_user(
            456,
            reason="abuse",
            until=datetime(2026, 2, 1, tzinfo=UTC),
            actor=actor,
        )
        with pytest.raises(ThreadNotFound):
            await client.delete_thread(9, reason="spam", actor=actor)
        with pytest.raises(UserNotFound):
            await client.lock_user(9, reason="x", until=None, actor=actor)
        with pytest.raises(UserNotFound):
            await client.device_hashes(9)
    assert (active.active, active.user_id) == (True, 456)
    assert (unknown.active, unknown.user_id) == (False, None)
    assert odd.active is False
    assert len(core_stub.requests_to("GET", "/internal/v1/sessions/..%2F..%2Fetc")) == 0
    assert hashes == ["a" * 64]
    assert (deletion.deleted, deletion.changed) == (True, True)
    assert again.changed is False
    assert (lock.locked, lock.until, lock.revoked_sessions) == (
        True,
        datetime(2026, 2, 1, tzinfo=UTC),
        2,
    )
    sent = core_stub.requests_to("POST", "/internal/v1/users/456/lock")[0].json
    assert sent == {"reason": "abuse", "until": "2026-02-01T00:00:00Z", "actor": actor}
    assert core_stub.requests_to("POST", "/internal/v1/threads/123/delete")[0].json == {
        "reason": "spam",
        "actor": actor,
    }


# ---- the cache ------------------------------------------------------------------------------


async def test_only_ids_missing_from_the_cache_go_to_core(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.add_thread(1)
    core_stub.add_thread(2)
    async with make_core_client() as client:
        await client.lookup(thread_ids=[1])
        lookup = await client.lookup(thread_ids=[1, 2], usernames=[])
        await client.lookup(thread_ids=[2, 1])
    assert lookup.thread(1).live
    assert lookup.thread(2).live
    assert _lookup_bodies(core_stub) == [{"thread_ids": [1]}, {"thread_ids": [2]}]


async def test_positive_answers_live_longer_than_negative_ones(
    core_stub: CoreStub, make_core_client: Callable[..., Any], seconds: Seconds
) -> None:
    core_stub.add_thread(1)
    async with make_core_client(
        feature_lookup_cache_seconds=5, feature_lookup_negative_cache_seconds=1
    ) as client:
        await client.lookup(thread_ids=[1, 2])
        seconds.now += 0.999
        await client.lookup(thread_ids=[1, 2])  # both cached
        seconds.now += 0.001
        await client.lookup(thread_ids=[1, 2])  # the negative answer expired
        # The thread is created in core: the next miss sees it at once.
        core_stub.add_thread(2)
        seconds.now += 1
        created = await client.lookup(thread_ids=[2])
        seconds.now += 3  # 5 s after the first positive answer
        await client.lookup(thread_ids=[1, 2])
    assert created.thread(2).live
    assert _lookup_bodies(core_stub) == [
        {"thread_ids": [1, 2]},
        {"thread_ids": [2]},
        {"thread_ids": [2]},
        {"thread_ids": [1]},
    ]


async def test_zero_seconds_disables_the_cache(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    async with make_core_client(
        feature_lookup_cache_seconds=0, feature_lookup_negative_cache_seconds=0
    ) as client:
        await client.lookup(user_ids=[1])
        await client.lookup(user_ids=[1])
        assert len(client.cache) == 0
    assert len(_lookup_bodies(core_stub)) == 2


async def test_invalidation_drops_entries_of_every_cache_in_the_process(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.add_user(5, "bob")
    core_stub.add_thread(9)
    async with make_core_client() as client:
        await client.lookup(user_ids=[5], usernames=["bob"], thread_ids=[9])
        # Module-level functions (what event handlers call) reach this client's cache, as do
        # the client's own methods.
        invalidate_user(5)  # also drops the username entry naming user 5
        await client.lookup(user_ids=[5], usernames=["bob"], thread_ids=[9])
        client.invalidate_thread(9)
        invalidate_username("BOB")
        await client.lookup(user_ids=[5], usernames=["bob"], thread_ids=[9])
    assert _lookup_bodies(core_stub) == [
        {"user_ids": [5], "usernames": ["bob"], "thread_ids": [9]},
        {"user_ids": [5], "usernames": ["bob"]},
        {"usernames": ["bob"], "thread_ids": [9]},
    ]


def test_the_cache_is_bounded_and_evicts_the_oldest_entry(seconds: Seconds) -> None:
    cache = LookupCache(positive_seconds=5, negative_seconds=1, max_entries=3, clock=seconds)
    for thread_id in (1, 2, 3):
        cache.put(("thread", thread_id), ThreadState(thread_id=thread_id, exists=True))
    # Re-storing an entry makes it the newest.
    cache.put(("thread", 1), ThreadState(thread_id=1, exists=True))
    cache.put(("thread", 4), ThreadState(thread_id=4, exists=True))
    assert len(cache) == 3
    assert cache.get(("thread", 2)) is None
    assert [cache.get(("thread", i)) is not None for i in (1, 3, 4)] == [True, True, True]


async def test_an_answer_in_flight_during_an_invalidation_is_used_but_not_kept(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.add_thread(1)
    # An event drops thread 1 while core's (older) answer is on its way.
    core_stub.before_answer = lambda _request: invalidate_thread(1)
    async with make_core_client() as client:
        first = await client.lookup(thread_ids=[1])
        core_stub.before_answer = None
        await client.lookup(thread_ids=[1])
        await client.lookup(thread_ids=[1])
    assert first.thread(1).live
    # The first answer was not kept; the second was.
    assert len(_lookup_bodies(core_stub)) == 2


# ---- failing closed -------------------------------------------------------------------------


async def test_not_configured_is_upstream_unavailable_without_a_call(
    settings: Settings, core_stub: CoreStub
) -> None:
    client = CoreClient.from_settings(
        Settings(**{**settings.model_dump(), "feature_core_internal_url": core_stub.url})
    )
    try:
        assert client.configured is False
        with pytest.raises(UpstreamUnavailable) as raised:
            await client.lookup(thread_ids=[1])
        outcome = await client.deliver_event({"id": "evt_x"})
    finally:
        await client.aclose()
    assert raised.value.status_code == 503
    assert raised.value.headers == {"Retry-After": "5"}
    assert raised.value.problem_type.code == "UPSTREAM_UNAVAILABLE"
    assert (outcome.result, outcome.unreachable) == ("retry", True)
    assert "FEATURE_INTERNAL_SIGNING_KEY" in outcome.detail
    assert core_stub.requests == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": "INTERNAL_ERROR"}),
        (503, {"code": "NOT_READY"}),
        (429, {"code": "RATE_LIMITED"}),
        (403, {"code": "FORBIDDEN"}),
        (400, {"code": "VALIDATION_FAILED"}),
        # A 404 without a code we map: the route is missing, not the thread.
        (404, {"code": "NOT_FOUND"}),
        (200, b"{not json"),
        (200, {"threads": {"1": {"deleted": False}}}),  # `exists` missing
        (200, {"threads": {}}),  # the id asked about left out
        (200, ["a", "list"]),
    ],
)
async def test_an_unusable_answer_is_upstream_unavailable(
    core_stub: CoreStub, make_core_client: Callable[..., Any], status: int, body: Any
) -> None:
    core_stub.respond("POST", LOOKUP, status, body)
    async with make_core_client() as client:
        with pytest.raises(UpstreamUnavailable):
            await client.lookup(thread_ids=[1])
        # Nothing was cached from a failure.
        assert len(client.cache) == 0


async def test_a_refused_signature_is_upstream_unavailable(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    async with make_core_client(feature_internal_signing_key=UNACCEPTED_SIGNING_SPEC) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.lookup(thread_ids=[1])
    assert core_stub.requests == []  # the stub refused it before recording


async def test_a_stopped_core_is_upstream_unavailable(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.stop()
    async with make_core_client() as client:
        with pytest.raises(UpstreamUnavailable):
            await client.lookup(thread_ids=[1])
        outcome = await client.deliver_event({"id": "evt_x"})
    assert (outcome.result, outcome.unreachable) == ("retry", True)


async def test_a_hanging_core_times_out_as_upstream_unavailable(
    core_stub: CoreStub, make_core_client: Callable[..., Any]
) -> None:
    core_stub.hold()
    async with make_core_client(feature_internal_timeout_seconds=0.2) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.lookup(thread_ids=[1])


# ---- delivering events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (400, "dead"),
        (404, "dead"),
        (422, "dead"),
        (401, "retry"),
        (403, "retry"),
        (408, "retry"),
        (409, "retry"),
        (425, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
async def test_delivery_outcome_by_status(
    core_stub: CoreStub, make_core_client: Callable[..., Any], status: int, result: str
) -> None:
    core_stub.respond("POST", "/internal/v1/events", status, {"code": "X"})
    envelope = {"id": new_event_id(), "type": "thread.deleted"}
    async with make_core_client() as client:
        outcome = await client.deliver_event(envelope, request_id="req-outbox-1")
    assert outcome.result == result
    assert outcome.status_code == status
    assert outcome.unreachable is False
    assert str(status) in outcome.detail
    sent = core_stub.requests_to("POST", "/internal/v1/events")[0]
    assert sent.json == envelope
    assert sent.headers["X-Request-ID"] == "req-outbox-1"
