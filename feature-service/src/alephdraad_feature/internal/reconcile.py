"""Orphans: feature documents that refer to core ids core no longer has (DESIGN section 7).

Events keep the two databases in step; this is the safety net for what an event could not fix
(a bug, a restore from backup, an event marked dead). Each domain that stores a core id
registers where, and how to repair a document whose id is gone:

    register_reference_source(ReferenceSource(
        name="replies.thread", collection="replies", field="threadId", kind="thread",
        match={"deletedAt": None},              # only references not repaired yet
        repair=do_hide_replies_of_thread,       # the same function thread.deleted runs
    ))

`do_reconcile` reads the distinct ids of each source in batches of 100, asks core about each
batch in one lookup call (never from the cache), and reports the ids core says do not exist or
are deleted; with `fix=True` it runs the source's repair for each, one transaction per id.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from alephdraad_feature.internal.core_client import LOOKUP_BATCH_LIMIT, CoreClient
from alephdraad_feature.internal.errors import UpstreamUnavailable

logger = logging.getLogger("alephdraad_feature.reconcile")

ReferenceKind = Literal["user", "thread"]
# Repairs the documents referring to one missing id; writes only through `session`.
Repair = Callable[[int, AsyncClientSession], Awaitable[None]]

EXIT_CLEAN = 0
EXIT_ORPHANS = 1
EXIT_CORE_UNREACHABLE = 2


@dataclass(frozen=True)
class ReferenceSource:
    """Where a core id is stored: `collection.field` holds a `kind` id (an int, or a string
    of digits). `repair` receives the id as an int: match both spellings if the field may hold
    strings."""

    name: str
    collection: str
    field: str
    kind: ReferenceKind
    repair: Repair
    # Only documents matching this filter count (e.g. not already anonymised or hidden).
    match: Mapping[str, Any] = dataclasses.field(default_factory=dict)


_SOURCES: dict[str, ReferenceSource] = {}


def register_reference_source(source: ReferenceSource) -> ReferenceSource:
    if source.name in _SOURCES and _SOURCES[source.name] != source:
        raise ValueError(f"a reference source named {source.name!r} is already registered")
    _SOURCES[source.name] = source
    return source


def unregister_reference_source(name: str) -> None:
    _SOURCES.pop(name, None)


def reference_sources() -> tuple[ReferenceSource, ...]:
    return tuple(_SOURCES.values())


@dataclass
class SourceReport:
    name: str
    kind: ReferenceKind
    collection: str
    field: str
    checked: int = 0
    orphans: list[int] = dataclasses.field(default_factory=list)
    fixed: list[int] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "collection": self.collection,
            "field": self.field,
            "checked": self.checked,
            "orphans": self.orphans,
            "fixed": self.fixed,
        }


@dataclass
class ReconcileReport:
    sources: list[SourceReport] = dataclasses.field(default_factory=list)
    core_unreachable: bool = False

    @property
    def unfixed(self) -> int:
        return sum(len(set(s.orphans) - set(s.fixed)) for s in self.sources)

    @property
    def exit_code(self) -> int:
        if self.core_unreachable:
            return EXIT_CORE_UNREACHABLE
        return EXIT_ORPHANS if self.unfixed else EXIT_CLEAN

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": [source.as_dict() for source in self.sources],
            "orphans": sum(len(source.orphans) for source in self.sources),
            "fixed": sum(len(source.fixed) for source in self.sources),
            "core_unreachable": self.core_unreachable,
        }


def _as_core_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


async def _distinct_ids(
    database: AsyncDatabase[dict[str, Any]], source: ReferenceSource, batch_size: int
) -> AsyncIterator[list[int]]:
    """The distinct ids of a source, ascending, `batch_size` at a time (a server-side group,
    so no id list has to fit in one reply)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {**source.match, source.field: {"$exists": True, "$ne": None}}},
        {"$group": {"_id": f"${source.field}"}},
        {"$sort": {"_id": 1}},
    ]
    batch: list[int] = []
    cursor = await database[source.collection].aggregate(pipeline, batchSize=batch_size)
    async for document in cursor:
        core_id = _as_core_id(document["_id"])
        if core_id is None:
            logger.warning(
                "reference is not a core id",
                extra={"source": source.name, "value": repr(document["_id"])[:100]},
            )
            continue
        batch.append(core_id)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _missing(core_client: CoreClient, kind: ReferenceKind, ids: list[int]) -> list[int]:
    if kind == "user":
        lookup = await core_client.lookup(user_ids=ids)
        return [i for i in ids if not lookup.user(i).live]
    lookup = await core_client.lookup(thread_ids=ids)
    return [i for i in ids if not lookup.thread(i).live]


async def do_reconcile(
    database: AsyncDatabase[dict[str, Any]],
    core_client: CoreClient,
    *,
    fix: bool = False,
    sources: tuple[ReferenceSource, ...] | None = None,
    batch_size: int = LOOKUP_BATCH_LIMIT,
) -> ReconcileReport:
    """Check every registered source against core; with `fix`, repair each orphan in its own
    transaction. Stops (with `core_unreachable`) as soon as core cannot answer."""
    report = ReconcileReport()
    for source in sources if sources is not None else reference_sources():
        source_report = SourceReport(
            name=source.name, kind=source.kind, collection=source.collection, field=source.field
        )
        report.sources.append(source_report)
        try:
            async for ids in _distinct_ids(database, source, batch_size):
                source_report.checked += len(ids)
                source_report.orphans.extend(await _missing(core_client, source.kind, ids))
        except UpstreamUnavailable:
            report.core_unreachable = True
            logger.error("reconcile stopped: core-service unreachable")
            return report
        if fix:
            for orphan in source_report.orphans:
                await _repair(database, source, orphan)
                source_report.fixed.append(orphan)
    return report


async def _repair(
    database: AsyncDatabase[dict[str, Any]], source: ReferenceSource, core_id: int
) -> None:
    async def apply(session: AsyncClientSession) -> None:
        await source.repair(core_id, session)

    async with database.client.start_session() as session:
        await session.with_transaction(apply)
    logger.info("orphan repaired", extra={"source": source.name, "core_id": core_id})
