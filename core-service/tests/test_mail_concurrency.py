"""The outbox under concurrency, with real commits: workers side by side send each message once
(SELECT … FOR UPDATE SKIP LOCKED), and a message is invisible to them until its transaction
commits, so a rolled-back write never mails anyone."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from django.db import connections, transaction

from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mail.services import deliver_due_mail, enqueue_mail
from tests.foundation_support import Mailbox, mailbox, smtp_sink

__all__ = ["mailbox", "smtp_sink"]  # fixtures used by name below

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")


def _in_own_connection(work: Callable[[], T]) -> Callable[[], T]:
    """Run `work` in a thread's own database connection, closed when done."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    return run


def test_concurrent_workers_send_each_message_exactly_once(mailbox: Mailbox) -> None:
    messages, workers = 24, 4
    mails = [
        enqueue_mail(kind="verify_email", to=f"user{n}@example.com", subject=f"#{n}", body="B")
        for n in range(messages)
    ]
    start = threading.Barrier(workers)

    def work() -> int:
        start.wait(timeout=10)
        return deliver_due_mail()

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_in_own_connection(work)) for _ in range(workers)]
        sent_by_worker = [future.result(timeout=30) for future in futures]

    assert sum(sent_by_worker) == messages
    delivered = mailbox.messages()
    assert len(delivered) == messages
    subjects = Counter(d.message["Subject"] for d in delivered)
    assert subjects == Counter(f"#{n}" for n in range(messages))
    rows = OutgoingMail.objects.filter(pk__in=[mail.pk for mail in mails])
    assert {(row.status, row.attempts) for row in rows} == {(OutgoingMail.Status.SENT, 1)}


def test_mail_of_an_open_transaction_is_invisible_and_a_rollback_never_sends_it(
    mailbox: Mailbox,
) -> None:
    enqueued, decided = threading.Event(), threading.Event()

    class Abort(Exception):
        pass

    def request_that_fails() -> None:
        with transaction.atomic():
            enqueue_mail(kind="verify_email", to="ghost@example.com", subject="S", body="B")
            enqueued.set()
            assert decided.wait(timeout=10)
            raise Abort

    with ThreadPoolExecutor(1) as pool:
        request = pool.submit(_in_own_connection(request_that_fails))
        assert enqueued.wait(timeout=10)
        # The row exists, uncommitted, in the other connection: the worker must not see it.
        assert deliver_due_mail() == 0
        decided.set()
        with pytest.raises(Abort):
            request.result(timeout=10)

    assert deliver_due_mail() == 0
    assert mailbox.messages() == []
    assert not OutgoingMail.objects.exists()
