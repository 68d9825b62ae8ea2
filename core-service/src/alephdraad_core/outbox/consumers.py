"""What core does with events other services publish (POST /internal/v1/events).

A consumer is a function of the event's `data`, registered for one event type and version:

    @register_consumer("reply.accepted")
    def on_reply_accepted(data: Mapping[str, Any]) -> None:
        ...

It runs inside the transaction that records the event id in `handled_events`, so the effect
and the record commit together or not at all: a redelivered event finds the record and is not
handled twice, and a consumer that fails leaves nothing behind (the producer retries). Domains
keep their consumers in a `consumers.py` module; `OutboxConfig.ready()` imports every app's,
so each process (web workers included) has the same registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from alephdraad_contracts import REPLY_DELETED

Consumer = Callable[[Mapping[str, Any]], None]
C = TypeVar("C", bound=Consumer)

# The feature-service event types core acts on; any other is recorded and acknowledged with
# no effect. A test checks that this declaration and the registered consumers agree.
# reply.deleted: content/consumers.py clears a thread's accepted answer.
HANDLED_EVENT_TYPES: frozenset[str] = frozenset({REPLY_DELETED})

_consumers: dict[tuple[str, int], Consumer] = {}


class ConsumerAlreadyRegistered(RuntimeError):
    """Two consumers for one event type and version: only one may own its effect."""


def register_consumer(event_type: str, *, version: int = 1) -> Callable[[C], C]:
    """Make the decorated function the consumer of `event_type` at `version`."""

    def decorate(consumer: C) -> C:
        key = (event_type, version)
        if key in _consumers:
            raise ConsumerAlreadyRegistered(f"{event_type} v{version} already has a consumer")
        _consumers[key] = consumer
        return consumer

    return decorate


def consumer_for(event_type: str, version: int) -> Consumer | None:
    """The consumer of this type and version, or None: an event core does not act on (a type
    or a version newer than this code) is recorded and acknowledged, never refused."""
    return _consumers.get((event_type, version))


def registered_event_types() -> frozenset[str]:
    return frozenset(event_type for event_type, _version in _consumers)
