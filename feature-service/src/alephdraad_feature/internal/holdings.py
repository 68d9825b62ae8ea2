"""What the feature service holds of a user, for core's deletion check.

A domain registers how to count its holdings of a user (`register_holding("replies", fn)`) and,
when something must block the deletion (a wallet with money in it), a reason
(`register_blocker(fn)`, returning a stable reason string or None). The deletion check runs them
all: `{can_delete, blocking_reasons[], holdings: {name: n}}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

HoldingCounter = Callable[[int], Awaitable[int]]
Blocker = Callable[[int], Awaitable[str | None]]

_COUNTERS: dict[str, HoldingCounter] = {}
_BLOCKERS: list[Blocker] = []


def register_holding(name: str, counter: HoldingCounter) -> HoldingCounter:
    _COUNTERS[name] = counter
    return counter


def register_blocker(blocker: Blocker) -> Blocker:
    if blocker not in _BLOCKERS:
        _BLOCKERS.append(blocker)
    return blocker


async def count_holdings(user_id: int) -> dict[str, int]:
    return {name: await counter(user_id) for name, counter in sorted(_COUNTERS.items())}


async def blocking_reasons(user_id: int) -> list[str]:
    reasons = [await blocker(user_id) for blocker in _BLOCKERS]
    return [reason for reason in reasons if reason]
