"""`manage.py reconcile [--fix] [--json] [--window-days N]`: does the feature service know what
core knows? (DESIGN section 7; the checks are in internal/reconcile.py.)

Reports one line per finding and a summary. Exit status: 0 when everything agrees (or every
finding was fixed), 1 when findings are left unfixed, 2 when a check could not run (the feature
service did not answer a reference lookup; the event checks still ran and are reported).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alephdraad_core.internal.peers import UpstreamUnavailable
from alephdraad_core.internal.reconcile import Finding, event_findings, reference_findings
from alephdraad_core.platform.housekeeping import DELIVERED_EVENT_RETENTION

UNFINISHED = 2


class Command(BaseCommand):
    help = "Report (and with --fix repair) what the feature service should know but does not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="repair each finding (one transaction each)"
        )
        parser.add_argument("--json", action="store_true", help="one JSON object, for machines")
        parser.add_argument(
            "--window-days",
            type=int,
            default=DELIVERED_EVENT_RETENTION.days,
            help="how old a deletion may be to count as missing its event (default: the "
            f"outbox keeps delivered events {DELIVERED_EVENT_RETENTION.days} days; older ones "
            "may have been purged). Dead events count at any age.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["window_days"] < 0:
            raise CommandError("--window-days must be 0 or more")
        findings = event_findings(window=timedelta(days=options["window_days"]))
        unavailable = None
        try:
            findings.extend(reference_findings())
        except UpstreamUnavailable as error:
            unavailable = error.detail
        if options["fix"]:
            for finding in findings:
                finding.do_fix()
        left = sum(1 for finding in findings if not finding.fixed)
        if options["json"]:
            self._report_json(findings, left, unavailable)
        else:
            self._report_lines(findings, left, unavailable)
        if unavailable is not None:
            raise CommandError(
                "the reference checks could not run: the feature service did not answer",
                returncode=UNFINISHED,
            )
        if left:
            raise CommandError(f"{left} finding(s) left unfixed; run with --fix", returncode=1)

    def _report_lines(self, findings: list[Finding], left: int, unavailable: str | None) -> None:
        for finding in findings:
            outcome = f" [fixed: {finding.note}]" if finding.fixed else ""
            self.stdout.write(f"{finding.check} {finding.subject}: {finding.problem}{outcome}")
        if unavailable is not None:
            self.stdout.write(f"reference checks skipped: {unavailable}")
        fixed = len(findings) - left
        self.stdout.write(
            "reconcile: clean"
            if not findings
            else f"reconcile: {len(findings)} finding(s), {fixed} fixed, {left} left"
        )

    def _report_json(self, findings: list[Finding], left: int, unavailable: str | None) -> None:
        report = {
            "findings": [
                {
                    "check": finding.check,
                    "subject": finding.subject,
                    "problem": finding.problem,
                    "fixed": finding.fixed,
                    "note": finding.note or None,
                }
                for finding in findings
            ],
            "found": len(findings),
            "fixed": len(findings) - left,
            "left": left,
            "reference_checks": "skipped" if unavailable is not None else "done",
        }
        self.stdout.write(json.dumps(report))
