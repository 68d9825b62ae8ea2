"""The mail outbox: queued in the caller's transaction, delivered by the worker through real SMTP.

"A failed send is retried, not lost": every failure is recorded on the row and rescheduled with
exponential backoff; after MAX_ATTEMPTS the row stays as `failed` for an operator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from alephdraad_contracts import bind_request_id, reset_request_id
from alephdraad_core.mail import services
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mail.services import (
    BASE_BACKOFF,
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    backoff,
    deliver_due_mail,
    enqueue_mail,
)
from tests.foundation_support import (
    Mailbox,
    blackhole_smtp_url,
    closed_port_url,
    mailbox,
    smtp_sink,
)

__all__ = ["blackhole_smtp_url", "mailbox", "smtp_sink"]  # fixtures used by name below

pytestmark = pytest.mark.django_db

MAIL_FROM = "Alephdraad Tests <no-reply@tests.alephdraad.example>"


@pytest.fixture(autouse=True)
def _mail_from(settings: Any) -> None:
    settings.MAIL_FROM = MAIL_FROM


def _enqueue(to: str = "mira@example.com", kind: str = "verify_email") -> OutgoingMail:
    return enqueue_mail(
        kind=kind, to=to, subject=f"Subject for {to}", body=f"Hello {to},\n\nthe body.\n"
    )


def test_enqueue_stores_a_pending_row_with_the_current_request_id() -> None:
    token = bind_request_id("req-outbox-1234")
    try:
        mail = enqueue_mail(kind="password_reset", to="a@example.com", subject="S", body="B")
    finally:
        reset_request_id(token)
    anonymous = enqueue_mail(kind="password_reset", to="b@example.com", subject="S", body="B")

    row = OutgoingMail.objects.get(pk=mail.pk)
    assert (row.kind, row.to_address, row.subject, row.body_text) == (
        "password_reset",
        "a@example.com",
        "S",
        "B",
    )
    assert row.status == OutgoingMail.Status.PENDING
    assert row.attempts == 0
    assert row.sent_at is None
    assert row.next_attempt_at <= timezone.now()
    assert row.request_id == "req-outbox-1234"
    assert OutgoingMail.objects.get(pk=anonymous.pk).request_id == ""


def test_due_mail_is_delivered_through_smtp_and_marked_sent(mailbox: Mailbox) -> None:
    mail = _enqueue("mira@example.com", kind="verify_email")
    before = timezone.now()

    assert deliver_due_mail() == 1

    [delivered] = mailbox.messages()
    message = delivered.message
    assert message["From"] == MAIL_FROM
    assert message["To"] == "mira@example.com"
    assert message["Subject"] == "Subject for mira@example.com"
    assert message["X-Alephdraad-Mail-Kind"] == "verify_email"
    assert f"outbox-{mail.pk}" in message["Message-ID"]
    # On the wire lines end in CRLF.
    assert message.get_content().replace("\r\n", "\n") == "Hello mira@example.com,\n\nthe body.\n"
    assert delivered.envelope["rcpt_tos"] == ["mira@example.com"]
    assert delivered.envelope["mail_from"] == "no-reply@tests.alephdraad.example"

    row = OutgoingMail.objects.get(pk=mail.pk)
    assert row.status == OutgoingMail.Status.SENT
    assert row.attempts == 1
    assert row.last_error == ""
    assert row.sent_at is not None
    assert row.sent_at >= before

    # A sent message is never sent again.
    assert deliver_due_mail() == 0
    assert len(mailbox.messages()) == 1


def test_mail_not_yet_due_is_left_alone_until_it_is(mailbox: Mailbox) -> None:
    now = timezone.now()
    later = _enqueue("later@example.com")
    OutgoingMail.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=1))

    assert deliver_due_mail(now=now) == 0
    assert mailbox.messages() == []
    row = OutgoingMail.objects.get(pk=later.pk)
    assert (row.status, row.attempts) == (OutgoingMail.Status.PENDING, 0)

    assert deliver_due_mail(now=now + timedelta(minutes=1)) == 1
    assert [d.message["To"] for d in mailbox.messages()] == ["later@example.com"]
    assert OutgoingMail.objects.get(pk=later.pk).status == OutgoingMail.Status.SENT


def test_a_batch_is_capped_by_limit_oldest_due_first(mailbox: Mailbox) -> None:
    now = timezone.now()
    mails = [_enqueue(f"user{n}@example.com") for n in range(3)]
    for offset, mail in zip((2, 1, 3), mails, strict=True):
        OutgoingMail.objects.filter(pk=mail.pk).update(
            next_attempt_at=now - timedelta(seconds=offset)
        )

    assert deliver_due_mail(limit=2, now=now) == 2

    assert sorted(d.message["To"] for d in mailbox.messages()) == [
        "user0@example.com",
        "user2@example.com",
    ]
    assert OutgoingMail.objects.get(pk=mails[1].pk).status == OutgoingMail.Status.PENDING


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    assert backoff(0) == BASE_BACKOFF
    assert backoff(1) == timedelta(seconds=5)
    assert backoff(2) == timedelta(seconds=10)
    assert backoff(3) == timedelta(seconds=20)
    assert backoff(7) == timedelta(seconds=320)
    assert backoff(11) == MAX_BACKOFF  # 5 s * 1024 would be 85 min
    assert backoff(20) == MAX_BACKOFF


def test_a_failed_send_is_retried_with_backoff_then_kept_as_failed(settings: Any) -> None:
    settings.SMTP_URL = closed_port_url()
    mail = _enqueue("unlucky@example.com")
    moment = timezone.now()
    OutgoingMail.objects.filter(pk=mail.pk).update(next_attempt_at=moment)

    for attempt in range(1, MAX_ATTEMPTS):
        # Just before the retry is due nothing happens.
        assert deliver_due_mail(now=moment - timedelta(microseconds=1)) == 0
        assert OutgoingMail.objects.get(pk=mail.pk).attempts == attempt - 1

        assert deliver_due_mail(now=moment) == 0
        row = OutgoingMail.objects.get(pk=mail.pk)
        assert row.status == OutgoingMail.Status.PENDING
        assert row.attempts == attempt
        assert row.last_error.startswith("ConnectionRefusedError:")
        assert row.next_attempt_at == moment + backoff(attempt)
        assert row.sent_at is None
        moment = row.next_attempt_at

    assert deliver_due_mail(now=moment) == 0
    row = OutgoingMail.objects.get(pk=mail.pk)
    assert row.status == OutgoingMail.Status.FAILED
    assert row.attempts == MAX_ATTEMPTS
    assert row.last_error.startswith("ConnectionRefusedError:")
    assert row.sent_at is None

    # Given up, but never deleted, and never picked up again.
    assert deliver_due_mail(now=moment + timedelta(days=1)) == 0
    assert OutgoingMail.objects.get(pk=mail.pk).attempts == MAX_ATTEMPTS


def test_backoff_counts_from_the_failure_so_a_slow_failure_is_not_retried_at_once(
    settings: Any, monkeypatch: pytest.MonkeyPatch, blackhole_smtp_url: str
) -> None:
    # A hung server makes each attempt last the SMTP timeout. Scaled down here (the real ones
    # are 20 s against a 5 s first backoff) so the attempt outlasts the first backoff.
    monkeypatch.setattr(services, "SMTP_TIMEOUT_S", 0.5)
    monkeypatch.setattr(services, "BASE_BACKOFF", timedelta(seconds=0.2))
    settings.SMTP_URL = blackhole_smtp_url
    mail = _enqueue("slow@example.com")

    assert deliver_due_mail() == 0
    after = timezone.now()

    row = OutgoingMail.objects.get(pk=mail.pk)
    # One pass, one attempt: the retry waits a backoff after the failure, not after the claim.
    assert row.attempts == 1
    assert row.last_error.startswith("SMTPServerDisconnected:")
    assert "timed out" in row.last_error
    assert row.next_attempt_at > after
    assert row.status == OutgoingMail.Status.PENDING


def test_a_failed_send_is_delivered_by_a_later_attempt(settings: Any, mailbox: Mailbox) -> None:
    settings.SMTP_URL = closed_port_url()
    mail = _enqueue("patient@example.com")
    assert deliver_due_mail() == 0
    row = OutgoingMail.objects.get(pk=mail.pk)
    assert row.attempts == 1

    settings.SMTP_URL = mailbox.url
    assert deliver_due_mail(now=row.next_attempt_at) == 1
    row = OutgoingMail.objects.get(pk=mail.pk)
    assert (row.status, row.attempts, row.last_error) == (OutgoingMail.Status.SENT, 2, "")
    assert [d.message["To"] for d in mailbox.messages()] == ["patient@example.com"]


def test_mail_enqueued_in_a_rolled_back_transaction_is_never_sent(mailbox: Mailbox) -> None:
    class Abort(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic():
            _enqueue("ghost@example.com")
            assert OutgoingMail.objects.filter(to_address="ghost@example.com").exists()
            raise Abort

    with pytest.raises(Abort):
        write_then_fail()

    assert not OutgoingMail.objects.filter(to_address="ghost@example.com").exists()
    assert deliver_due_mail() == 0
    assert mailbox.messages() == []


def test_an_address_that_cannot_be_put_in_a_header_does_not_block_the_queue(
    mailbox: Mailbox,
) -> None:
    # Django's (and so DRF's) email validation accepts a quoted local part with a vertical
    # tab, which the email package refuses to put in a header (it is a line break to it).
    poison_address = '"a\x0bb"@example.com'
    assert serializers.EmailField().run_validation(poison_address) == poison_address
    poison = _enqueue(poison_address)
    good = _enqueue("next-in-line@example.com")

    assert deliver_due_mail() == 1

    assert [d.message["To"] for d in mailbox.messages()] == ["next-in-line@example.com"]
    assert OutgoingMail.objects.get(pk=good.pk).status == OutgoingMail.Status.SENT
    row = OutgoingMail.objects.get(pk=poison.pk)
    assert row.status == OutgoingMail.Status.PENDING  # recorded and rescheduled, not lost
    assert row.attempts == 1
    assert row.last_error.startswith("ValueError:")
    assert row.next_attempt_at > timezone.now()


def test_credentials_are_never_sent_without_tls(mailbox: Mailbox, settings: Any) -> None:
    """The sink offers no STARTTLS: with a user and password in SMTP_URL the send is refused
    (and retried later), never made in clear."""
    settings.SMTP_URL = mailbox.url.replace("smtp://", "smtp://mailer:secret@")
    enqueue_mail(kind="test", to="someone@example.test", subject="s", body="b")

    assert deliver_due_mail() == 0

    mail = OutgoingMail.objects.get()
    assert mail.status == OutgoingMail.Status.PENDING
    assert mail.attempts == 1
    assert "offers no TLS" in mail.last_error
    assert mailbox.messages() == []
