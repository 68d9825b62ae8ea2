"""`manage.py outbox status|dispatch|retry`: look at and act on the event outbox.

outbox status [--json]             pending (and due now), dead, age of the oldest pending event
outbox dispatch [--until-empty]    one delivery pass now (the worker runs these every poll);
                                   --until-empty repeats while passes make progress
outbox retry EVENT_ID … | --dead   put dead events (given ones, or all) back to pending, due now

dispatch and retry exit with status 1 when something was left undone (the feature service is
unreachable; an id that is not a dead event), so scripts and runbooks can tell.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alephdraad_core.outbox.dispatcher import DispatchReport, dispatch_due
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.outbox.selectors import outbox_backlog
from alephdraad_core.outbox.services import do_retry_dead_events

# --until-empty gives up after this many passes: a safety net should events keep arriving as
# fast as they are delivered (the worker delivers those anyway).
MAX_PASSES = 1000


class Command(BaseCommand):
    help = "Show the event outbox, deliver due events now, or retry dead ones."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        status = actions.add_parser("status", help="pending, due, dead and the oldest age")
        status.add_argument("--json", action="store_true", help="one JSON object, for machines")
        dispatch = actions.add_parser("dispatch", help="deliver due events now")
        dispatch.add_argument(
            "--until-empty",
            action="store_true",
            help="repeat passes until nothing is due or a pass makes no progress",
        )
        retry = actions.add_parser("retry", help="put dead events back to pending, due now")
        retry.add_argument("event_ids", nargs="*", metavar="EVENT_ID")
        retry.add_argument("--dead", action="store_true", help="every dead event")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "status":
            self._status(as_json=options["json"])
        elif action == "dispatch":
            self._dispatch(until_empty=options["until_empty"])
        else:
            self._retry(options["event_ids"], every_dead=options["dead"])

    def _status(self, *, as_json: bool) -> None:
        backlog = outbox_backlog(count_due=True)
        if as_json:
            summary = {
                "pending": backlog.pending,
                "due": backlog.due,
                "dead": backlog.dead,
                "oldest_pending_seconds": backlog.oldest_pending_seconds,
            }
            self.stdout.write(json.dumps(summary))
            return
        oldest = (
            "-"
            if backlog.oldest_pending_seconds is None
            else f"{backlog.oldest_pending_seconds:.1f} s"
        )
        self.stdout.write(f"pending: {backlog.pending} (due now: {backlog.due})")
        self.stdout.write(f"dead: {backlog.dead}")
        self.stdout.write(f"oldest pending: {oldest}")

    def _dispatch(self, *, until_empty: bool) -> None:
        for number in range(1, MAX_PASSES + 1):
            report = dispatch_due()
            self.stdout.write(f"pass {number}: {_describe(report)}")
            if report.stopped_early:
                raise CommandError(
                    "the feature service is unreachable; the remaining events stay pending"
                )
            # A pass that took less than a batch left nothing due behind it; one that settled
            # nothing (all retried) would only repeat the same failures (see `more_due`).
            if not until_empty or not report.more_due:
                return

    def _retry(self, event_ids: list[str], *, every_dead: bool) -> None:
        if every_dead == bool(event_ids):
            raise CommandError("give event ids or --dead (not both)")
        retried = do_retry_dead_events(None if every_dead else event_ids)
        for event_id in retried:
            self.stdout.write(f"retrying {event_id}")
        self.stdout.write(f"{len(retried)} dead event(s) put back to pending")
        skipped = [event_id for event_id in dict.fromkeys(event_ids) if event_id not in retried]
        if skipped:
            statuses = dict(OutboxEvent.objects.filter(pk__in=skipped).values_list("id", "status"))
            reasons = ", ".join(
                f"{event_id} ({statuses.get(event_id, 'no such event')})" for event_id in skipped
            )
            raise CommandError(f"not dead, so not retried: {reasons}")


def _describe(report: DispatchReport) -> str:
    return (
        f"claimed {report.claimed}, delivered {report.delivered}, "
        f"retried {report.retried}, dead {report.dead}"
        + (", stopped early" if report.stopped_early else "")
    )
