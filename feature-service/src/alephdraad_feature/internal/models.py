"""Collections of the internal listener: seen signature nonces and handled events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, IndexModel


class SignatureNonce(Document):
    """A signature nonce already accepted, kept until the signature could no longer be fresh.

    `_id` is the nonce itself, so a second insert of the same nonce fails with a duplicate key
    error (a replay), atomically across replicas. MongoDB's TTL monitor deletes the document
    once `expiresAt` (the signature's `created` + 60 s) has passed; it runs about once a
    minute, so a nonce may live a little longer, never shorter."""

    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # the nonce, not an ObjectId
    expires_at: datetime = Field(alias="expiresAt")

    class Settings:
        name = "signature_nonces"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("expiresAt", ASCENDING)], name="expiresAt_ttl", expireAfterSeconds=0)
        ]


HANDLED_RETENTION_SECONDS = 30 * 24 * 3600


class HandledEvent(Document):
    """An event received on POST /internal/v1/events; `_id` is the event id, so a redelivery
    of the same event is recognised and not acted on twice. Written in the same transaction as
    the event's effects (`internal.events.do_handle_event`). `known` is False for a type or
    version this service had no schema for when it arrived: recorded, acknowledged, no effect."""

    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # the event id, not an ObjectId
    type: str
    # Absent on records written before envelopes were validated (issue 7's first cut).
    version: int | None = None
    producer: str | None = None
    occurred_at: datetime = Field(alias="occurredAt")
    handled_at: datetime = Field(alias="handledAt")
    known: bool
    data: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "handled_events"
        indexes: ClassVar[list[IndexModel]] = [
            # Forgotten after HANDLED_RETENTION_SECONDS, like core's handled_events: far longer
            # than any producer keeps redelivering one event (core purges delivered events
            # after 7 days), so a redelivery is always recognised.
            IndexModel(
                [("handledAt", ASCENDING)],
                name="handledAt_ttl",
                expireAfterSeconds=HANDLED_RETENTION_SECONDS,
            )
        ]
