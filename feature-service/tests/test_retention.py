"""What the service forgets on its own: MongoDB TTL indexes, created at start-up by Beanie."""

from __future__ import annotations

from alephdraad_feature.internal.models import HANDLED_RETENTION_SECONDS, SignatureNonce
from alephdraad_feature.outbox.models import DELIVERED_RETENTION_SECONDS
from alephdraad_feature.platform.db import MongoDatabase


async def _ttl_indexes(mongo: MongoDatabase, collection: str) -> dict[str, tuple[str, int]]:
    indexes = await (await mongo.database[collection].list_indexes()).to_list()
    return {
        index["name"]: (next(iter(index["key"])), index["expireAfterSeconds"])
        for index in indexes
        if "expireAfterSeconds" in index
    }


async def test_delivered_outbox_events_expire_after_a_week(mongo: MongoDatabase) -> None:
    assert await _ttl_indexes(mongo, "event_outbox") == {
        "deliveredAt_ttl": ("deliveredAt", DELIVERED_RETENTION_SECONDS)
    }
    assert DELIVERED_RETENTION_SECONDS == 7 * 24 * 3600


async def test_handled_events_expire_after_thirty_days(mongo: MongoDatabase) -> None:
    assert await _ttl_indexes(mongo, "handled_events") == {
        "handledAt_ttl": ("handledAt", HANDLED_RETENTION_SECONDS)
    }
    assert HANDLED_RETENTION_SECONDS == 30 * 24 * 3600


async def test_signature_nonces_expire_when_their_signature_would_be_stale(
    mongo: MongoDatabase,
) -> None:
    name = SignatureNonce.Settings.name
    assert await _ttl_indexes(mongo, name) == {"expiresAt_ttl": ("expiresAt", 0)}
