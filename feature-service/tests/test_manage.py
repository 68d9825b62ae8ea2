"""`python -m alephdraad_feature.manage`: outbox commands, reconcile, and the worker process."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from core_stub import CoreStub
from internal_support import Clock
from pymongo.asynchronous.client_session import AsyncClientSession
from support import free_port

from alephdraad_contracts import THREAD_DELETED
from alephdraad_feature.internal.reconcile import (
    ReferenceSource,
    reference_sources,
    register_reference_source,
    unregister_reference_source,
)
from alephdraad_feature.manage import run_command
from alephdraad_feature.outbox.services import emit_event
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import Settings
from alephdraad_feature.worker import run_worker

REFS = "test_reconcile_refs"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stub_settings(settings: Settings, core_stub: CoreStub) -> Settings:
    return Settings(
        **{
            **settings.model_dump(),
            **core_stub.settings_overrides(feature_dispatcher_poll_seconds=0.05),
        }
    )


@pytest.fixture
async def outbox(mongo: MongoDatabase) -> AsyncIterator[Any]:
    collection = mongo.database["event_outbox"]
    await collection.delete_many({})
    yield collection
    await collection.delete_many({})


async def _emit(mongo: MongoDatabase, count: int) -> list[str]:
    ids = []
    for index in range(count):

        async def change(session: AsyncClientSession, index: int = index) -> str:
            envelope = await emit_event(
                session, THREAD_DELETED, {"thread_id": index + 1, "author_id": 1}
            )
            return str(envelope["id"])

        async with mongo.client.start_session() as session:
            ids.append(await session.with_transaction(change))
    return ids


async def _run(argv: list[str], settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_command(argv, settings=settings, out=out)
    return code, out.getvalue()


# ---- outbox commands --------------------------------------------------------------------------


async def test_outbox_status_dispatch_and_retry(
    mongo: MongoDatabase, outbox: Any, core_stub: CoreStub, stub_settings: Settings
) -> None:
    ids = await _emit(mongo, 3)
    code, output = await _run(["outbox", "status", "--json"], stub_settings)
    status = json.loads(output)
    assert code == 0
    assert (status["pending"], status["delivered"], status["dead"]) == (3, 0, 0)
    assert status["oldest_pending_seconds"] >= 0

    # core refuses the first event for good; the others go through.
    def refuse_first(request: Any) -> tuple[int, Any] | None:
        return (400, {"code": "VALIDATION_FAILED"}) if request.json["id"] == ids[0] else None

    core_stub.on_event = refuse_first
    code, output = await _run(["outbox", "dispatch", "--until-empty"], stub_settings)
    assert code == 0
    assert json.loads(output) == {
        "delivered": 2,
        "retried": 0,
        "dead": 1,
        "lease_lost": 0,
        "unreachable": False,
    }
    code, output = await _run(["outbox", "status"], stub_settings)
    assert code == 0
    assert "pending: 0\ndelivered: 2\ndead: 1\n" in output
    assert f"  {ids[0]} thread.deleted after 1 attempts: 400 " in output

    core_stub.on_event = None
    code, output = await _run(["outbox", "retry", "--dead"], stub_settings)
    assert (code, output) == (0, f"{ids[0]}: retrying\n")
    code, output = await _run(["outbox", "retry", ids[1], "evt_nope"], stub_settings)
    assert (code, output) == (1, f"{ids[1]}: delivered\nevt_nope: unknown\n")
    code, _ = await _run(["outbox", "dispatch"], stub_settings)
    assert code == 0
    assert await outbox.count_documents({"status": "delivered"}) == 3
    sent_first = [
        r for r in core_stub.requests_to("POST", "/internal/v1/events") if r.json["id"] == ids[0]
    ]
    assert len(sent_first) == 2


async def test_dispatch_with_core_down_exits_2_and_keeps_the_events(
    mongo: MongoDatabase, outbox: Any, core_stub: CoreStub, stub_settings: Settings
) -> None:
    await _emit(mongo, 2)
    core_stub.stop()
    code, output = await _run(["outbox", "dispatch", "--until-empty"], stub_settings)
    assert code == 2
    assert json.loads(output)["unreachable"] is True
    assert await outbox.count_documents({"status": "pending"}) == 2


async def test_mongodb_unreachable_exits_3() -> None:
    settings = Settings(
        mongodb_url=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        mongodb_timeout_ms=200,
    )
    code, output = await _run(["outbox", "status"], settings)
    assert (code, output) == (3, "")


async def test_retry_needs_ids_or_dead(stub_settings: Settings) -> None:
    with pytest.raises(SystemExit) as raised:
        await _run(["outbox", "retry"], stub_settings)
    assert raised.value.code == 2


# ---- reconcile --------------------------------------------------------------------------------


@pytest.fixture
async def reference_source(mongo: MongoDatabase) -> AsyncIterator[Any]:
    """A test collection referring to core threads, registered as a reconcile source whose
    repair marks the documents of a missing thread (through the transaction's session)."""
    collection = mongo.database[REFS]
    await collection.delete_many({})
    repaired: list[int] = []
    # The real domains' sources are set aside: these tests check the command's mechanics on a
    # source of their own, and other tests' documents in the shared database are not theirs.
    registered = reference_sources()
    for other in registered:
        unregister_reference_source(other.name)

    async def mark_orphaned(thread_id: int, session: AsyncClientSession) -> None:
        repaired.append(thread_id)
        await session.client[mongo.database.name][REFS].update_many(
            {"threadId": {"$in": [thread_id, str(thread_id)]}},
            {"$set": {"orphaned": True}},
            session=session,
        )

    source = register_reference_source(
        ReferenceSource(
            name="test.thread",
            collection=REFS,
            field="threadId",
            kind="thread",
            repair=mark_orphaned,
            match={"orphaned": {"$ne": True}},
        )
    )
    try:
        yield collection, repaired
    finally:
        unregister_reference_source(source.name)
        for other in registered:
            register_reference_source(other)
        await collection.delete_many({})


async def test_reconcile_reports_then_fixes_orphans(
    reference_source: Any, core_stub: CoreStub, stub_settings: Settings
) -> None:
    collection, repaired = reference_source
    core_stub.add_thread(1)
    core_stub.add_thread(2, deleted=True)
    # Thread 3 does not exist; ids may be stored as digits.
    await collection.insert_many(
        [
            {"threadId": 1},
            {"threadId": 1},
            {"threadId": 2},
            {"threadId": "3"},
            {"threadId": None},
            {"other": True},
        ]
    )
    code, output = await _run(["reconcile", "--json"], stub_settings)
    report = json.loads(output)
    assert code == 1
    assert report["sources"] == [
        {
            "name": "test.thread",
            "kind": "thread",
            "collection": REFS,
            "field": "threadId",
            "checked": 3,
            "orphans": [2, 3],
            "fixed": [],
        }
    ]
    assert repaired == []
    assert await collection.count_documents({"orphaned": True}) == 0

    code, output = await _run(["reconcile", "--fix"], stub_settings)
    assert code == 0
    assert (
        "test.thread (test_reconcile_refs.threadId -> thread): 3 ids checked, 2 orphans" in output
    )
    assert repaired == [2, 3]
    assert await collection.count_documents({"orphaned": True}) == 2
    assert await collection.count_documents({"threadId": 1, "orphaned": True}) == 0

    # Repaired documents no longer match the source: the next run is clean.
    code, output = await _run(["reconcile", "--json"], stub_settings)
    assert code == 0
    assert json.loads(output)["orphans"] == 0


async def test_reconcile_asks_core_once_per_batch_of_100(
    reference_source: Any, core_stub: CoreStub, stub_settings: Settings
) -> None:
    collection, _ = reference_source
    for thread_id in range(1, 251):
        core_stub.add_thread(thread_id)
    await collection.insert_many([{"threadId": i} for i in range(1, 251)])
    code, _ = await _run(["reconcile"], stub_settings)
    assert code == 0
    bodies = [r.json for r in core_stub.requests_to("POST", "/internal/v1/lookup")]
    assert [len(body["thread_ids"]) for body in bodies] == [100, 100, 50]
    assert sorted(i for body in bodies for i in body["thread_ids"]) == list(range(1, 251))


async def test_reconcile_with_core_down_exits_2_and_repairs_nothing(
    reference_source: Any, core_stub: CoreStub, stub_settings: Settings
) -> None:
    collection, repaired = reference_source
    await collection.insert_one({"threadId": 5})
    core_stub.stop()
    code, output = await _run(["reconcile", "--fix"], stub_settings)
    assert code == 2
    assert "stopped: core-service unreachable" in output
    assert repaired == []


# ---- the worker -------------------------------------------------------------------------------


async def test_the_worker_delivers_touches_its_ready_file_and_stops(
    mongo: MongoDatabase,
    outbox: Any,
    core_stub: CoreStub,
    stub_settings: Settings,
    tmp_path: Path,
) -> None:
    ready = tmp_path / "run" / "feature-worker.ready"
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stub_settings, stop=stop, ready_file=ready))
    try:
        ids = await _emit(mongo, 2)
        assert await asyncio.to_thread(core_stub.wait_for_events, 2)
        # Events emitted while it runs are picked up on a later poll.
        later = await _emit(mongo, 1)
        assert await asyncio.to_thread(core_stub.wait_for_events, 3)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=10)
    assert ready.exists()
    assert sorted(core_stub.event_counts()) == sorted(ids + later)
    # A stop ends the loop between passes, so every outcome was recorded before it returned.
    assert await outbox.count_documents({"status": "delivered"}) == 3


async def test_the_worker_survives_mongodb_being_down(tmp_path: Path, clock: Clock) -> None:
    settings = Settings(
        mongodb_url=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        mongodb_timeout_ms=100,
        feature_dispatcher_poll_seconds=0.05,
    )
    ready = tmp_path / "ready"
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop, ready_file=ready, clock=clock))
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert not worker.done(), worker
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=10)
    # It ran its (failed) passes and stopped cleanly when asked.
    assert worker.exception() is None


def test_the_worker_process_stops_on_sigterm(
    stub_settings: Settings, mongodb_url: str, test_database: str, tmp_path: Path
) -> None:
    ready = tmp_path / "feature-worker.ready"
    env = {
        **os.environ,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": test_database,
        "FEATURE_INTERNAL_SIGNING_KEY": (
            stub_settings.feature_internal_signing_key.get_secret_value()
        ),
        "FEATURE_CORE_INTERNAL_URL": stub_settings.feature_core_internal_url,
        "FEATURE_DISPATCHER_POLL_SECONDS": "0.1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alephdraad_feature.manage",
            "run-worker",
            "--ready-file",
            str(ready),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the worker never became ready"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    messages = [json.loads(line)["message"] for line in stderr.splitlines() if line.startswith("{")]
    assert "worker started" in messages
    assert messages[-1] == "worker stopped"


def test_a_bad_setting_stops_the_command_naming_the_variable(
    mongodb_url: str,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alephdraad_feature.manage", "outbox", "status"],
        env={**os.environ, "MONGODB_URL": mongodb_url, "FEATURE_OUTBOX_BATCH_SIZE": "none"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "FEATURE_OUTBOX_BATCH_SIZE: Input should be a valid integer" in result.stderr
    assert "Traceback" not in result.stderr
