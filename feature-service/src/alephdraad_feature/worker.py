"""The feature service's background process: `python -m alephdraad_feature.manage run-worker`.

Delivers the outbox to core every FEATURE_DISPATCHER_POLL_SECONDS (at once again after a full
batch) until SIGTERM or SIGINT. Safe to run in several replicas at once: events are claimed
with leases (`outbox.dispatcher`). It survives MongoDB or core being down: a failed pass is
logged and the next one tries again, and MongoDB being down at start only delays the first
real pass (Beanie is bound once the server answers, as in the web process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from beanie import Document

from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.signing import utc_now
from alephdraad_feature.model_registry import DOCUMENT_MODELS
from alephdraad_feature.outbox.dispatcher import DispatchReport, OutboxDispatcher
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import Settings

logger = logging.getLogger("alephdraad_feature.worker")


async def do_worker_pass(mongo: MongoDatabase, dispatcher: OutboxDispatcher) -> DispatchReport:
    """One pass; an empty report when MongoDB is not usable yet. Never raises (but for
    cancellation): a failure is logged and the loop carries on."""
    try:
        if not mongo.beanie_initialised and not await mongo.try_init_beanie():
            return DispatchReport()
        return await dispatcher.do_dispatch_pass()
    except Exception:
        # A database blip (or a bug in one event's handling) must not kill the worker.
        logger.exception("worker pass failed")
        return DispatchReport()


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event,
    ready_file: Path | None = None,
    clock: Callable[[], datetime] = utc_now,
    document_models: Sequence[type[Document]] = DOCUMENT_MODELS,
) -> None:
    """Dispatch until `stop` is set; touch `ready_file` after the first pass."""
    mongo = MongoDatabase(settings, document_models)
    core_client = CoreClient.from_settings(settings, cached=False)
    dispatcher = OutboxDispatcher.from_settings(settings, core_client, clock=clock)
    poll = settings.feature_dispatcher_poll_seconds
    logger.info(
        "worker started",
        extra={
            "poll_seconds": poll,
            "owner": dispatcher.owner,
            "core_calls": "enabled" if core_client.configured else "disabled (no signing key)",
        },
    )
    try:
        first = True
        while not stop.is_set():
            report = await do_worker_pass(mongo, dispatcher)
            if first and ready_file is not None:
                await asyncio.to_thread(_touch, ready_file)
            first = False
            # More may be due right away after a full batch; otherwise wait a poll.
            if report.attempted >= dispatcher.batch_size and not report.unreachable:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
    finally:
        await core_client.aclose()
        await mongo.close()
        logger.info("worker stopped")
