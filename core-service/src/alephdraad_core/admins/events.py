"""Events of admin actions on users (DESIGN section 7): locks and unlocks, which the feature
service mirrors so that a locked member cannot write or spend there either.

Each function writes one outbox row and must be called inside the transaction of the change.
`actor_ref` is the `actor` member every event schema shares; content/events.py uses it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alephdraad_contracts import USER_LOCKED, USER_UNLOCKED
from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.outbox.services import do_emit_event

if TYPE_CHECKING:
    from alephdraad_core.admins.services import ServiceActor

ActorRef = dict[str, Any]


def actor_ref(actor: User | Admin | ServiceActor | None) -> ActorRef | None:
    """`{kind: user|admin|service, id}` as the event schemas define it; None when nobody in
    particular caused the change (a repair by `manage.py reconcile`)."""
    if actor is None:
        return None
    if isinstance(actor, User):
        return {"kind": "user", "id": actor.pk}
    if isinstance(actor, Admin):
        return {"kind": "admin", "id": actor.pk}
    return {"kind": "service", "id": actor.name}


def iso_z(moment: datetime | None) -> str | None:
    """A moment as the event schemas' `date-time`: UTC with a Z (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def emit_user_locked(
    user_id: int,
    *,
    until: datetime | None,
    reason: str,
    actor: Admin | ServiceActor,
) -> OutboxEvent:
    return do_emit_event(
        USER_LOCKED,
        {"user_id": user_id, "until": iso_z(until), "reason": reason, "actor": actor_ref(actor)},
    )


def emit_user_unlocked(user_id: int, *, actor: Admin | ServiceActor) -> OutboxEvent:
    return do_emit_event(USER_UNLOCKED, {"user_id": user_id, "actor": actor_ref(actor)})
