"""Queue mail in the caller's transaction; deliver it from the worker with retries.

A request never talks to SMTP: `enqueue_mail` inserts a row, which becomes visible to the
worker only when the request's transaction commits (so nothing is mailed about a write that
rolled back). `deliver_due_mail` claims rows with SELECT … FOR UPDATE SKIP LOCKED, so any
number of workers can run side by side, and reschedules a failed send with exponential backoff
until MAX_ATTEMPTS, after which the row stays as `failed` for an operator to inspect.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alephdraad_contracts import current_request_id
from alephdraad_core.mail.models import OutgoingMail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=1)
SMTP_TIMEOUT_S = 20


def enqueue_mail(*, kind: str, to: str, subject: str, body: str) -> OutgoingMail:
    return OutgoingMail.objects.create(
        kind=kind,
        to_address=to,
        subject=subject,
        body_text=body,
        request_id=current_request_id() or "",
    )


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, BASE_BACKOFF * (2 ** max(0, attempts - 1)))


def build_message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox-{mail.pk}")
    message["X-Alephdraad-Mail-Kind"] = mail.kind
    message.set_content(mail.body_text)
    return message


def send_via_smtp(message: EmailMessage, smtp_url: str | None = None) -> None:
    """Send one message to the server in SMTP_URL (smtp:// with STARTTLS when offered, smtps://
    for implicit TLS; user:password@ for AUTH)."""
    parts = urlsplit(smtp_url or settings.SMTP_URL)
    host = parts.hostname or "localhost"
    implicit_tls = parts.scheme == "smtps"
    port = parts.port or (465 if implicit_tls else 25)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if implicit_tls:
        client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_S, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S)
    with client:
        client.ehlo()
        tls = implicit_tls
        if not implicit_tls and client.has_extn("starttls"):
            client.starttls(context=context)
            tls = True
            client.ehlo()
        if parts.username:
            if not tls:
                # Never put the SMTP password on the wire in clear (a server, or someone in
                # between stripping STARTTLS, could read it); the send fails and is retried.
                raise smtplib.SMTPException(
                    "refusing to authenticate: the server offers no TLS (use smtps:// or a "
                    "server with STARTTLS)"
                )
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)


def deliver_due_mail(limit: int = 50, now: datetime | None = None) -> int:
    """Send up to `limit` due messages, one transaction each; return how many were sent."""
    sent = 0
    for _ in range(limit):
        outcome = _deliver_one(now)
        if outcome is None:
            break
        sent += outcome
    return sent


def _deliver_one(now: datetime | None) -> int | None:
    moment = now or timezone.now()
    with transaction.atomic():
        mail = (
            OutgoingMail.objects.select_for_update(skip_locked=True)
            .filter(status=OutgoingMail.Status.PENDING, next_attempt_at__lte=moment)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if mail is None:
            return None
        mail.attempts += 1
        try:
            send_via_smtp(build_message(mail))
        # ValueError: a message the email package refuses to build (e.g. an address Django's
        # validator accepts with a control character in a quoted local part). Left uncaught it
        # would roll back and stay first in line, blocking every message behind it.
        except (OSError, smtplib.SMTPException, ValueError) as error:
            mail.last_error = f"{type(error).__name__}: {error}"[:2000]
            if mail.attempts >= MAX_ATTEMPTS:
                mail.status = OutgoingMail.Status.FAILED
                logger.error(
                    "mail delivery failed for good",
                    extra={"mail_id": mail.pk, "kind": mail.kind, "attempts": mail.attempts},
                )
            else:
                # Counted from the failure, not the claim: a send that hung for the SMTP
                # timeout would otherwise be due again at once and retried in the same pass.
                failed_at = now or timezone.now()
                mail.next_attempt_at = failed_at + backoff(mail.attempts)
                logger.warning(
                    "mail delivery failed; will retry",
                    extra={
                        "mail_id": mail.pk,
                        "kind": mail.kind,
                        "attempts": mail.attempts,
                        "error": mail.last_error,
                    },
                )
            mail.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return 0
        mail.status = OutgoingMail.Status.SENT
        mail.sent_at = timezone.now()
        mail.last_error = ""
        mail.save(update_fields=["attempts", "status", "sent_at", "last_error"])
        logger.info("mail sent", extra={"mail_id": mail.pk, "kind": mail.kind})
        return 1
