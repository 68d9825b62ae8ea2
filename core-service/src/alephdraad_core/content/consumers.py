"""Feature-service events content acts on (registered with outbox.consumers at start-up).

Each consumer runs inside the transaction that records the event id in `handled_events`, so a
redelivery finds the record and does nothing; the effects are idempotent besides, so the fresh
copy `reconcile --fix` on the feature side may publish (a new id) is harmless too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alephdraad_contracts import REPLY_DELETED
from alephdraad_core.content.services import do_forget_accepted_reply
from alephdraad_core.outbox.consumers import register_consumer


@register_consumer(REPLY_DELETED)
def on_reply_deleted(data: Mapping[str, Any]) -> None:
    """A deleted reply can no longer be its thread's answer. `data` was validated against the
    contracts schema event.reply.deleted.v1 (reply_id, thread_id, author_id, actor?) before this
    runs. A reply that was not the answer, or a thread core does not have, changes nothing."""
    do_forget_accepted_reply(data["thread_id"], data["reply_id"])
