"""`manage.py run_worker`: one pass delivers due mail, purges expired rows, signals readiness."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from alephdraad_core.mail.management.commands import run_worker
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.security.models import RateLimitCounter
from tests.conftest import JsonLogCapture
from tests.foundation_support import Mailbox, mailbox, smtp_sink

__all__ = ["mailbox", "smtp_sink"]  # fixtures used by name below

# The command closes stale connections (close_old_connections), which it must be free to do:
# a test transaction wrapped around it would be broken by that, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def test_run_worker_once_delivers_purges_touches_the_ready_file_and_exits(
    mailbox: Mailbox, tmp_path: Path, json_log: JsonLogCapture
) -> None:
    now = timezone.now()
    mail = enqueue_mail(kind="verify_email", to="mira@example.com", subject="Hi", body="Body")
    RateLimitCounter.objects.create(
        key="login:ip:203.0.113.1",
        window_start=now - timedelta(minutes=2),
        hits=3,
        expires_at=now - timedelta(minutes=1),
    )
    RateLimitCounter.objects.create(
        key="login:ip:203.0.113.2", window_start=now, hits=1, expires_at=now + timedelta(minutes=1)
    )
    ready = tmp_path / "worker.ready"

    call_command("run_worker", "--once", "--ready-file", str(ready), stdout=io.StringIO())

    assert ready.is_file()
    assert [d.message["To"] for d in mailbox.messages()] == ["mira@example.com"]
    assert OutgoingMail.objects.get(pk=mail.pk).status == OutgoingMail.Status.SENT
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["login:ip:203.0.113.2"]
    assert [line["message"] for line in json_log.lines() if line["logger"].endswith("worker")] == [
        "worker started",
        "worker stopped",
    ]


def test_a_failing_pass_is_logged_and_the_worker_carries_on(
    tmp_path: Path, json_log: JsonLogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*args: object, **kwargs: object) -> int:
        raise OperationalError("connection to server was lost")

    monkeypatch.setattr(run_worker, "deliver_due_mail", database_down)
    ready = tmp_path / "worker.ready"

    call_command("run_worker", "--once", "--ready-file", str(ready), stdout=io.StringIO())

    # Still signals readiness (the process is up; the next pass retries) and stops cleanly.
    assert ready.is_file()
    [failure] = json_log.messages("worker pass failed")
    assert failure["level"] == "error"
    assert "OperationalError: connection to server was lost" in str(failure)
    assert json_log.messages("worker stopped")
