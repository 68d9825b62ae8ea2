"""Events of threads (DESIGN section 7): the feature service hangs replies and reactions on
thread ids, so it hears when a thread is deleted (it hides them), restored (it shows them again)
or moved to another category or author.

Each function writes one outbox row and must be called inside the transaction of the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alephdraad_contracts import THREAD_DELETED, THREAD_MOVED, THREAD_RESTORED
from alephdraad_core.accounts.models import User
from alephdraad_core.admins.events import actor_ref
from alephdraad_core.admins.models import Admin
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.outbox.services import do_emit_event

if TYPE_CHECKING:
    from alephdraad_core.admins.services import ServiceActor


def emit_thread_deleted(
    thread_id: int, *, author_id: int, actor: User | Admin | ServiceActor | None, reason: str = ""
) -> OutboxEvent:
    data: dict[str, Any] = {
        "thread_id": thread_id,
        "author_id": author_id,
        "actor": actor_ref(actor),
    }
    if reason:
        # Moderation deletes carry the moderator's reason; an author's own delete has none.
        data["reason"] = reason
    return do_emit_event(THREAD_DELETED, data)


def emit_thread_restored(
    thread_id: int, *, author_id: int, actor: User | Admin | ServiceActor | None
) -> OutboxEvent:
    return do_emit_event(
        THREAD_RESTORED,
        {"thread_id": thread_id, "author_id": author_id, "actor": actor_ref(actor)},
    )


def emit_thread_moved(
    thread_id: int,
    *,
    from_category_id: int,
    to_category_id: int,
    from_author_id: int,
    to_author_id: int,
    actor: User | Admin | ServiceActor | None,
) -> OutboxEvent:
    return do_emit_event(
        THREAD_MOVED,
        {
            "thread_id": thread_id,
            "from_category_id": from_category_id,
            "to_category_id": to_category_id,
            "from_author_id": from_author_id,
            "to_author_id": to_author_id,
            "actor": actor_ref(actor),
        },
    )
