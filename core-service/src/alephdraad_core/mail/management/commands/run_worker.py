"""`manage.py run_worker`: the core service's background process.

Delivers queued mail, dispatches the event outbox to the feature service, and purges expired
rows (rate-limit counters, used or expired tokens, old delivered and handled events). Runs until
SIGTERM/SIGINT; safe to run in several replicas at once (mail and events are claimed with
SELECT … FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from alephdraad_core.mail.services import deliver_due_mail
from alephdraad_core.outbox.dispatcher import dispatch_due
from alephdraad_core.platform.housekeeping import purge_expired

logger = logging.getLogger("alephdraad_core.worker")

# Housekeeping runs every this many loops (at the default 1 s poll: once a minute).
HOUSEKEEPING_EVERY = 60


class Command(BaseCommand):
    help = "Deliver queued mail and outbox events and purge expired rows until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--ready-file",
            type=Path,
            help="touch this file after the first pass (a readiness signal for supervisors)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if not options["once"]:
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
        logger.info("worker started", extra={"poll_seconds": settings.WORKER_POLL_SECONDS})
        loops = 0
        while True:
            close_old_connections()
            try:
                sent = deliver_due_mail()
                # Never raises for the feature service being down (the events wait, backing
                # off); only a database failure gets here, and the next pass retries.
                more_events = dispatch_due().more_due
                if loops % HOUSEKEEPING_EVERY == 0:
                    purge_expired()
            except Exception:
                # A database blip must not kill the worker; the next pass retries.
                logger.exception("worker pass failed")
                sent, more_events = 0, False
            if loops == 0 and options["ready_file"] is not None:
                options["ready_file"].touch()
            loops += 1
            if options["once"] or stop.is_set():
                break
            # More may be due right away after a busy pass (mail) or a full batch (events);
            # otherwise wait a poll.
            if sent == 0 and not more_events:
                stop.wait(settings.WORKER_POLL_SECONDS)
            if stop.is_set():
                break
        logger.info("worker stopped")
