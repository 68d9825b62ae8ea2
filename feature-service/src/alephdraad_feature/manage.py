"""`python -m alephdraad_feature.manage …`: operator commands of the feature service.

    outbox status [--json]          the backlog: pending, delivered, dead (with their errors)
    outbox dispatch [--until-empty] one delivery pass now (or passes until nothing is due)
    outbox retry ID… | --dead       make dead (or waiting) events due again
    run-worker [--ready-file PATH]  the background process: dispatch until SIGTERM/SIGINT
    reconcile [--fix] [--json]      report (and repair) references to ids core no longer has
    wallets audit [--user ID] [--json]  recompute balances from the ledger, report any drift

Settings come from the environment, as for the web process. Exit codes: 0 success; 1 work
left (orphans not fixed, events unknown or not delivered, a wallet drifting from its ledger);
2 core-service unreachable (or a usage error); 3 MongoDB unreachable. Results go to stdout,
JSON logs to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging.config
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from alephdraad_contracts import logging_config

# Imported for its effect: every domain's reconcile sources (and event handlers) get registered.
from alephdraad_feature import consumers  # noqa: F401
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.reconcile import do_reconcile
from alephdraad_feature.internal.signing import utc_now
from alephdraad_feature.model_registry import DOCUMENT_MODELS
from alephdraad_feature.outbox.dispatcher import OutboxDispatcher
from alephdraad_feature.outbox.selectors import outbox_status
from alephdraad_feature.outbox.services import do_retry_events
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import SERVICE_NAME, Settings, SettingsError, load_settings
from alephdraad_feature.wallets.selectors import audit_all_wallets, audit_wallet
from alephdraad_feature.worker import run_worker

EXIT_OK = 0
EXIT_WORK_LEFT = 1
EXIT_CORE_UNREACHABLE = 2
EXIT_MONGODB_UNREACHABLE = 3


class MongoUnreachable(Exception):
    pass


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[MongoDatabase]:
    mongo = MongoDatabase(settings, DOCUMENT_MODELS)
    try:
        if not await mongo.try_init_beanie():
            raise MongoUnreachable
        yield mongo
    finally:
        await mongo.close()


def _print_json(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


async def _outbox_status(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    async with _database(settings):
        status = await outbox_status(utc_now())
    if args.json:
        _print_json(out, status)
        return EXIT_OK
    oldest = status["oldest_pending_seconds"]
    out.write(
        f"pending: {status['pending']}"
        + (f" (oldest {oldest:.1f} s)" if oldest is not None else "")
        + f"\ndelivered: {status['delivered']}\ndead: {status['dead']}\n"
    )
    for event in status["dead_events"]:
        out.write(f"  {event['id']} {event['type']} after {event['attempts']} attempts: ")
        out.write(f"{event['last_error']}\n")
    return EXIT_OK


async def _outbox_dispatch(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    async with _database(settings):
        core_client = CoreClient.from_settings(settings, cached=False)
        try:
            dispatcher = OutboxDispatcher.from_settings(settings, core_client)
            if args.until_empty:
                report = await dispatcher.do_dispatch_until_empty()
            else:
                report = await dispatcher.do_dispatch_pass()
        finally:
            await core_client.aclose()
    _print_json(out, report.as_dict())
    return EXIT_CORE_UNREACHABLE if report.unreachable else EXIT_OK


async def _outbox_retry(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    async with _database(settings):
        outcome = await do_retry_events(args.ids, all_dead=args.dead)
    for event_id, result in outcome.items():
        out.write(f"{event_id}: {result}\n")
    if not outcome:
        out.write("no dead events\n")
    return EXIT_OK if all(result == "retrying" for result in outcome.values()) else EXIT_WORK_LEFT


async def _reconcile(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    async with _database(settings) as mongo:
        core_client = CoreClient.from_settings(settings, cached=False)
        try:
            report = await do_reconcile(mongo.database, core_client, fix=args.fix)
        finally:
            await core_client.aclose()
    if args.json:
        _print_json(out, report.as_dict())
    else:
        for source in report.sources:
            out.write(
                f"{source.name} ({source.collection}.{source.field} -> {source.kind}): "
                f"{source.checked} ids checked, {len(source.orphans)} orphans"
                + (f", {len(source.fixed)} fixed" if args.fix else "")
                + "\n"
            )
            if source.orphans:
                out.write(f"  orphans: {', '.join(str(i) for i in source.orphans)}\n")
        if not report.sources:
            out.write("no reference sources registered\n")
        if report.core_unreachable:
            out.write("stopped: core-service unreachable\n")
    return report.exit_code


async def _wallets_audit(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    async with _database(settings):
        audits = [await audit_wallet(args.user)] if args.user else await audit_all_wallets()
    drifting = [audit for audit in audits if audit.drift]
    if args.json:
        _print_json(out, [audit.model_dump() for audit in audits])
    else:
        for audit in drifting:
            out.write(
                f"user {audit.user_id}: wallet Rp {audit.balance} / {audit.token_balance} tokens, "
                f"ledger Rp {audit.ledger_balance} / {audit.ledger_token_balance} tokens: DRIFT\n"
            )
        out.write(f"{len(audits)} wallets audited, {len(drifting)} drifting\n")
    # Drift is work left for an operator (a correcting transaction), like an unfixed orphan.
    return EXIT_WORK_LEFT if drifting else EXIT_OK


async def _run_worker(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop=stop, ready_file=args.ready_file)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alephdraad_feature.manage",
        description="Operator commands of the feature service.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    outbox = commands.add_parser("outbox", help="inspect and deliver the event outbox")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    status = outbox_commands.add_parser("status", help="pending, delivered and dead events")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_outbox_status)
    dispatch = outbox_commands.add_parser("dispatch", help="deliver due events now")
    dispatch.add_argument(
        "--until-empty", action="store_true", help="repeat passes until nothing is due"
    )
    dispatch.set_defaults(handler=_outbox_dispatch)
    retry = outbox_commands.add_parser("retry", help="make dead or waiting events due again")
    retry.add_argument("ids", nargs="*", metavar="ID", help="event ids (evt_…)")
    retry.add_argument("--dead", action="store_true", help="every dead event")
    retry.set_defaults(handler=_outbox_retry)

    worker = commands.add_parser("run-worker", help="dispatch the outbox until stopped")
    worker.add_argument(
        "--ready-file",
        type=Path,
        help="touch this file after the first pass (a readiness signal for supervisors)",
    )
    worker.set_defaults(handler=_run_worker)

    reconcile = commands.add_parser("reconcile", help="find references to ids core lacks")
    reconcile.add_argument("--fix", action="store_true", help="repair every orphan found")
    reconcile.add_argument("--json", action="store_true", help="machine-readable output")
    reconcile.set_defaults(handler=_reconcile)

    wallets = commands.add_parser("wallets", help="wallets and their ledger")
    wallets_commands = wallets.add_subparsers(dest="wallets_command", required=True)
    audit = wallets_commands.add_parser(
        "audit", help="recompute balances from the transactions; exit 1 on any drift"
    )
    audit.add_argument("--user", type=int, metavar="ID", help="only this core user id")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.set_defaults(handler=_wallets_audit)
    return parser


async def run_command(argv: Sequence[str], *, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Parse and run one command; return its exit code (tests await this directly)."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.command == "outbox" and args.outbox_command == "retry" and not (args.ids or args.dead):
        parser.error("outbox retry needs event ids or --dead")
    try:
        code: int = await args.handler(settings, args, out)
    except MongoUnreachable:
        sys.stderr.write(f"{SERVICE_NAME}: MongoDB is unreachable\n")
        return EXIT_MONGODB_UNREACHABLE
    return code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(f"{SERVICE_NAME}: {exc}") from None
    logging.config.dictConfig(logging_config(SERVICE_NAME, settings.log_level))
    return asyncio.run(run_command(sys.argv[1:] if argv is None else argv, settings=settings))


if __name__ == "__main__":
    raise SystemExit(main())
