"""Fail closed: check with core that the core ids a write refers to are usable, before writing.

DESIGN section 5: before the feature service writes anything that refers to a core id (a reply
to thread 123 by user 456, a report on a thread, a transfer to a username) it asks core whether
those ids exist and what state they are in. A domain calls one of these first, then writes:

    thread = await require_live_thread(core_client, thread_id)      # 404 THREAD_NOT_FOUND
    author = await require_active_user(core_client, actor_user_id)  # 404 / 403 USER_LOCKED
    ... write ...

Each raises `UpstreamUnavailable` (503, Retry-After) when core cannot answer, so nothing is
written on a guess. `require_live_references` checks threads and users in one call to core.
Answers come from the core client's short-lived cache when it holds them.
"""

from __future__ import annotations

from collections.abc import Iterable

from alephdraad_feature.internal.core_client import (
    CoreClient,
    CoreLookup,
    ThreadState,
    UsernameState,
    UserState,
)
from alephdraad_feature.internal.errors import ThreadNotFound, UserLocked, UserNotFound


def check_live_thread(state: ThreadState) -> ThreadState:
    """Raise `ThreadNotFound` unless the thread exists and is not deleted."""
    if not state.live:
        raise ThreadNotFound(f"Thread {state.thread_id} does not exist or was deleted.")
    return state


def check_active_user(state: UserState) -> UserState:
    """Raise `UserNotFound` for a missing or deleted user, `UserLocked` for a locked one."""
    if not state.live:
        raise UserNotFound(f"User {state.user_id} does not exist.")
    if state.locked:
        raise UserLocked(f"User {state.user_id} is locked and cannot make changes.")
    return state


async def require_live_references(
    client: CoreClient, *, thread_ids: Iterable[int] = (), user_ids: Iterable[int] = ()
) -> CoreLookup:
    """One call to core (or the cache) for every id; raise at the first unusable one.

    Threads are checked before users, in the order given, so the error is deterministic."""
    threads = list(thread_ids)
    users = list(user_ids)
    lookup = await client.lookup(thread_ids=threads, user_ids=users)
    for thread_id in threads:
        check_live_thread(lookup.thread(thread_id))
    for user_id in users:
        check_active_user(lookup.user(user_id))
    return lookup


async def require_live_thread(client: CoreClient, thread_id: int) -> ThreadState:
    """The thread's state if it exists and is not deleted; else 404 THREAD_NOT_FOUND."""
    lookup = await require_live_references(client, thread_ids=[thread_id])
    return lookup.thread(thread_id)


async def require_active_user(client: CoreClient, user_id: int) -> UserState:
    """The user's state if they exist, are not deleted and not locked; else 404
    USER_NOT_FOUND or 403 USER_LOCKED."""
    lookup = await require_live_references(client, user_ids=[user_id])
    return lookup.user(user_id)


async def require_active_username(client: CoreClient, username: str) -> UsernameState:
    """The user a username names, if any and not locked (e.g. the recipient of a transfer)."""
    lookup = await client.lookup(usernames=[username])
    state = lookup.username(username)
    if not state.exists:
        raise UserNotFound(f"No user is called {username!r}.")
    if state.locked:
        raise UserLocked(f"User {username!r} is locked.")
    return state
