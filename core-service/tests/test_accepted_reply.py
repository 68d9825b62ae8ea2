"""A thread's accepted answer (issue 8): PUT/DELETE /threads/{id}/accepted-reply, verified
through the feature service's lookup before it is stored, shown in thread views, and cleared
when the feature service publishes reply.deleted. Every test checks the answer and the
database; the feature service is the real-HTTP stub (`feature_stub`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_contracts import REPLY_DELETED, new_ulid
from alephdraad_contracts.testing import ReceivedRequest
from alephdraad_core.content import services
from alephdraad_core.content.models import Thread
from alephdraad_core.internal.peers import ReplyState
from alephdraad_core.outbox.models import HandledEvent, OutboxEvent
from alephdraad_core.security.models import SecurityEvent
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields
from tests.content_helpers import (
    admin_token,
    body_of,
    get,
    make_admin,
    make_member,
    make_thread,
    send,
    user_token,
)
from tests.feature_stub import FeatureStub
from tests.internal_support import accept_feature_keys, call
from tests.outbox_support import EVENTS, feature_envelope

pytestmark = pytest.mark.django_db

LOOKUP = "/internal/v1/lookup"


def reply_id() -> str:
    """A fresh reply id as the feature service makes them."""
    return "rpl_" + new_ulid()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def path_of(thread: Thread) -> str:
    return f"/threads/{thread.pk}/accepted-reply"


def accept(client: Client, thread: Thread, token: str | None, reply: Any) -> Any:
    return send(client, "PUT", path_of(thread), {"reply_id": reply}, token=token)


def clear(client: Client, thread: Thread, token: str | None) -> Any:
    return send(client, "DELETE", path_of(thread), token=token)


def stored(thread: Thread) -> tuple[str | None, datetime | None]:
    """(accepted_reply_id, accepted_at) as the database holds them."""
    row = Thread.objects.values_list("accepted_reply_id", "accepted_at").get(pk=thread.pk)
    return row[0], row[1]


def set_accepted(thread: Thread, reply: str | None, at: datetime | None = None) -> None:
    """Store an accepted answer directly (as if accepted earlier)."""
    Thread.objects.filter(pk=thread.pk).update(
        accepted_reply_id=reply,
        accepted_at=None if reply is None else (at or timezone.now() - timedelta(hours=1)),
    )


class Replies:
    """What the stub feature service knows: {reply id: its lookup entry}. Ids it does not
    know are answered as the real lookup does, `exists: false`."""

    def __init__(self, stub: FeatureStub) -> None:
        self.stub = stub
        self.known: dict[str, dict[str, Any]] = {}
        stub.handle("POST", LOOKUP, self._answer)

    def add(self, thread: Thread, *, deleted: bool = False, author_id: int = 4242) -> str:
        new = reply_id()
        self.known[new] = {
            "exists": True,
            "deleted": deleted,
            "thread_id": thread.pk,
            "author_id": author_id,
        }
        return new

    def _answer(self, request: ReceivedRequest) -> tuple[int, Any]:
        unknown = {"exists": False, "deleted": False, "thread_id": None, "author_id": None}
        return 200, {
            "replies": {
                asked: self.known.get(asked, unknown) for asked in request.json["reply_ids"]
            }
        }

    @property
    def lookups(self) -> list[list[str]]:
        return [request.json["reply_ids"] for request in self.stub.requests_to("POST", LOOKUP)]


@pytest.fixture
def replies(feature_stub: FeatureStub) -> Replies:
    return Replies(feature_stub)


@pytest.fixture
def author() -> Any:
    return make_member("nadia")


@pytest.fixture
def author_token(author: Any) -> str:
    return user_token(author)


@pytest.fixture
def thread(author: Any) -> Thread:
    return make_thread(author, title="How do I read a core dump?")


# --- accepting -------------------------------------------------------------------------------


def test_the_author_accepts_a_live_reply_of_the_thread(
    client: Client, thread: Thread, author_token: str, replies: Replies
) -> None:
    reply = replies.add(thread)
    before = timezone.now()

    response = accept(client, thread, author_token, reply)

    assert response.status_code == 200, response.content
    body = body_of(response)
    accepted_reply_id, accepted_at = stored(thread)
    assert (accepted_reply_id, body["accepted_reply_id"]) == (reply, reply)
    assert accepted_at is not None
    assert accepted_at >= before
    assert body["accepted_at"] == _iso(accepted_at)
    # The whole thread representation, as GET /threads/{id} answers it.
    assert body == body_of(get(client, f"/threads/{thread.pk}"))
    assert (body["id"], body["title"]) == (thread.pk, "How do I read a core dump?")
    # Asked once, about exactly this id, before the write.
    assert replies.lookups == [[reply]]
    # An author's own choice: no audit record, and nothing the feature service must hear.
    assert not SecurityEvent.objects.exists()
    assert not OutboxEvent.objects.exists()
    # Not an edit of the text.
    assert Thread.objects.get(pk=thread.pk).updated_at == thread.updated_at


def test_thread_views_show_the_accepted_reply(
    client: Client, thread: Thread, author_token: str, replies: Replies
) -> None:
    reply = replies.add(thread)
    assert accept(client, thread, author_token, reply).status_code == 200
    _, accepted_at = stored(thread)
    assert accepted_at is not None

    detail = body_of(get(client, f"/threads/{thread.pk}"))
    [item] = body_of(get(client, "/threads"))["items"]

    assert (detail["accepted_reply_id"], detail["accepted_at"]) == (reply, _iso(accepted_at))
    assert item["accepted_reply_id"] == reply
    # A list item stays lean: no accepted_at there (nor content).
    assert "accepted_at" not in item


def test_another_reply_replaces_the_accepted_one(
    client: Client, thread: Thread, author_token: str, replies: Replies
) -> None:
    first, second = replies.add(thread), replies.add(thread)
    earlier = timezone.now() - timedelta(hours=1)
    set_accepted(thread, first, earlier)

    response = accept(client, thread, author_token, second)

    assert response.status_code == 200, response.content
    accepted_reply_id, accepted_at = stored(thread)
    assert (accepted_reply_id, body_of(response)["accepted_reply_id"]) == (second, second)
    assert accepted_at is not None
    assert accepted_at > earlier


def test_accepting_the_accepted_reply_again_changes_nothing(
    client: Client, thread: Thread, author_token: str, replies: Replies
) -> None:
    reply = replies.add(thread)
    earlier = timezone.now() - timedelta(hours=1)
    set_accepted(thread, reply, earlier)

    response = accept(client, thread, author_token, reply)

    assert response.status_code == 200, response.content
    # A retried PUT: the reply is checked again, but accepted_at keeps the first acceptance.
    assert stored(thread) == (reply, earlier)
    assert body_of(response)["accepted_at"] == _iso(earlier)
    assert replies.lookups == [[reply]]


def test_the_author_may_accept_their_own_reply(
    client: Client, author: Any, thread: Thread, author_token: str, replies: Replies
) -> None:
    # Answering one's own question is allowed (the fix was found alone).
    reply = replies.add(thread, author_id=author.pk)

    assert accept(client, thread, author_token, reply).status_code == 200
    assert stored(thread)[0] == reply


@pytest.mark.parametrize(
    "fact",
    ["unknown", "deleted", "another thread"],
)
def test_a_reply_that_is_not_a_live_reply_of_the_thread_is_422(
    client: Client, author: Any, thread: Thread, author_token: str, replies: Replies, fact: str
) -> None:
    previous = replies.add(thread)
    earlier = timezone.now() - timedelta(hours=1)
    set_accepted(thread, previous, earlier)
    if fact == "unknown":
        candidate = reply_id()
    elif fact == "deleted":
        candidate = replies.add(thread, deleted=True)
    else:
        candidate = replies.add(make_thread(author, title="Another thread"))

    response = accept(client, thread, author_token, candidate)

    # One code for all three: the answer does not tell which replies exist elsewhere.
    body = assert_problem(response, 422, "REPLY_NOT_IN_THREAD")
    assert body["errors"] == [{"field": "reply_id", "message": "Not a live reply of this thread."}]
    assert stored(thread) == (previous, earlier)
    assert replies.lookups == [[candidate]]


@pytest.mark.parametrize(
    "value",
    [
        "rpl_01kaz3qf0v8m2n4p6r8s9t0w1x",  # lower case
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1",  # 25 characters
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1XY",  # 27 characters
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0WIX",  # I is not Crockford base32
        "rct_01KAZ3QF0V8M2N4P6R8S9T0W1X",  # a reaction id
        " rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X",  # ids are exact: no trimming
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X\n",
        "",
        "rpl_" + "0" * 10_000,
    ],
    ids=[
        "lower case",
        "short",
        "long",
        "not base32",
        "other prefix",
        "space",
        "newline",
        "empty",
        "huge",
    ],
)
def test_a_malformed_reply_id_is_422_and_the_feature_service_is_not_asked(
    client: Client, thread: Thread, author_token: str, replies: Replies, value: str
) -> None:
    body = assert_problem(accept(client, thread, author_token, value), *BROKEN_RULE)

    assert error_fields(body) == {"reply_id"}
    assert stored(thread) == (None, None)
    assert replies.lookups == []


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"reply_id"}),
        ({"reply_id": None}, {"reply_id"}),
        ({"reply_id": 7}, {"reply_id"}),
        ({"reply_id": ["rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X"]}, {"reply_id"}),
        ({"reply_id": "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X", "thread_id": 1}, {"thread_id"}),
        (["rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X"], {""}),
    ],
    ids=["missing", "null", "a number", "a list", "unknown field", "not an object"],
)
def test_a_body_of_the_wrong_shape_is_400(
    client: Client,
    thread: Thread,
    author_token: str,
    replies: Replies,
    payload: Any,
    fields: set[str],
) -> None:
    response = send(client, "PUT", path_of(thread), payload, token=author_token)

    body = assert_problem(response, *BAD_SHAPE)
    assert error_fields(body) == fields
    assert stored(thread) == (None, None)
    assert replies.lookups == []


def test_a_body_that_is_not_json_is_400(
    client: Client, thread: Thread, author_token: str, replies: Replies
) -> None:
    response = client.put(
        f"/api/v1{path_of(thread)}",
        b"{reply_id:",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {author_token}",
    )

    assert_problem(response, 400, "MALFORMED_REQUEST")
    assert stored(thread) == (None, None)
    assert replies.lookups == []


# --- who may -----------------------------------------------------------------------------------


def test_someone_elses_thread_is_404_and_the_feature_service_is_not_asked(
    client: Client, thread: Thread, replies: Replies
) -> None:
    set_accepted(thread, replies.add(thread))
    kept = stored(thread)
    stranger = user_token(make_member("stranger"))

    accepted = accept(client, thread, stranger, replies.add(thread))
    cleared = clear(client, thread, stranger)

    # Never 403: the answer an unknown id gets, so a stranger learns nothing about the thread.
    body = assert_problem(accepted, 404, "THREAD_NOT_FOUND")
    assert body["detail"] == f"There is no thread {thread.pk}."
    assert_problem(cleared, 404, "THREAD_NOT_FOUND")
    assert stored(thread) == kept
    assert replies.lookups == []


def test_a_deleted_or_unknown_thread_is_404(
    client: Client, author: Any, author_token: str, replies: Replies
) -> None:
    gone = make_thread(author, deleted=True)
    reply = replies.add(gone)
    set_accepted(gone, reply)
    kept = stored(gone)
    missing = Thread(pk=gone.pk + 1000)

    assert_problem(accept(client, gone, author_token, reply), 404, "THREAD_NOT_FOUND")
    assert_problem(clear(client, gone, author_token), 404, "THREAD_NOT_FOUND")
    assert_problem(accept(client, missing, author_token, reply), 404, "THREAD_NOT_FOUND")
    assert_problem(clear(client, missing, author_token), 404, "THREAD_NOT_FOUND")

    assert stored(gone) == kept
    assert replies.lookups == []


def test_without_a_token_it_is_401_and_with_an_admin_token_403(
    client: Client, thread: Thread, replies: Replies
) -> None:
    reply = replies.add(thread)
    staff = admin_token(make_admin("thread_ops"))

    assert_problem(accept(client, thread, None, reply), 401, "UNAUTHENTICATED")
    assert_problem(clear(client, thread, None), 401, "UNAUTHENTICATED")
    # The thread's author's choice: an admin token is not a member's.
    assert_problem(accept(client, thread, staff, reply), 403, "FORBIDDEN")
    assert_problem(clear(client, thread, staff), 403, "FORBIDDEN")

    assert stored(thread) == (None, None)
    assert replies.lookups == []


# --- the feature service cannot vouch ----------------------------------------------------------


def test_an_unreachable_feature_service_is_503_and_changes_nothing(
    client: Client, thread: Thread, author_token: str, feature_stub: FeatureStub
) -> None:
    previous = reply_id()
    set_accepted(thread, previous)
    kept = stored(thread)
    feature_stub.stop()

    response = accept(client, thread, author_token, reply_id())

    assert_problem(response, 503, "UPSTREAM_UNAVAILABLE")
    assert response["Retry-After"] == "5"
    assert stored(thread) == kept


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (500, {"code": "INTERNAL_ERROR"}),
        (404, {"code": "NOT_FOUND"}),
        (200, {"replies": {}}),
        (200, {"replies": {"x": 1}}),
        (200, {"replies": []}),
        (200, None),
    ],
    ids=["5xx", "4xx", "id left out", "another id", "a list", "no body"],
)
def test_an_unusable_answer_is_503_and_changes_nothing(
    client: Client,
    thread: Thread,
    author_token: str,
    feature_stub: FeatureStub,
    status: int,
    answer: Any,
) -> None:
    feature_stub.respond("POST", LOOKUP, status, answer)

    response = accept(client, thread, author_token, reply_id())

    assert_problem(response, 503, "UPSTREAM_UNAVAILABLE")
    assert int(response["Retry-After"]) > 0
    assert stored(thread) == (None, None)


def test_clearing_does_not_need_the_feature_service(
    client: Client, thread: Thread, author_token: str, feature_stub: FeatureStub
) -> None:
    set_accepted(thread, reply_id())
    feature_stub.stop()

    response = clear(client, thread, author_token)

    assert response.status_code == 204, response.content
    assert stored(thread) == (None, None)


# --- races: the thread changes while the feature service is asked ---------------------------------


def _meanwhile(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    """Run `change` right after the feature service answered (between check and write)."""
    real = services.fetch_reply_states

    def asked_then_changed(reply_ids: Any) -> dict[str, ReplyState]:
        states = real(reply_ids)
        change()
        return states

    monkeypatch.setattr(services, "fetch_reply_states", asked_then_changed)


def test_a_thread_deleted_while_the_feature_service_is_asked_is_not_written(
    client: Client,
    thread: Thread,
    author_token: str,
    replies: Replies,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reply = replies.add(thread)
    _meanwhile(
        monkeypatch,
        lambda: Thread.objects.filter(pk=thread.pk).update(
            is_deleted=True, deleted_at=timezone.now()
        ),
    )

    assert_problem(accept(client, thread, author_token, reply), 404, "THREAD_NOT_FOUND")
    assert stored(thread) == (None, None)
    assert replies.lookups == [[reply]]


def test_a_thread_handed_to_someone_else_meanwhile_is_not_written(
    client: Client,
    thread: Thread,
    author_token: str,
    replies: Replies,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reply = replies.add(thread)
    heir = make_member("heir")
    _meanwhile(monkeypatch, lambda: Thread.objects.filter(pk=thread.pk).update(author=heir))

    assert_problem(accept(client, thread, author_token, reply), 404, "THREAD_NOT_FOUND")
    assert stored(thread) == (None, None)


# --- clearing ----------------------------------------------------------------------------------


def test_the_author_clears_the_accepted_reply(
    client: Client, thread: Thread, author_token: str, feature_stub: FeatureStub
) -> None:
    set_accepted(thread, reply_id())

    response = clear(client, thread, author_token)

    assert response.status_code == 204
    assert response.content == b""
    assert stored(thread) == (None, None)
    detail = body_of(get(client, f"/threads/{thread.pk}"))
    assert (detail["accepted_reply_id"], detail["accepted_at"]) == (None, None)
    assert feature_stub.requests == []
    assert not SecurityEvent.objects.exists()


def test_clearing_is_idempotent(client: Client, thread: Thread, author_token: str) -> None:
    assert clear(client, thread, author_token).status_code == 204
    assert clear(client, thread, author_token).status_code == 204
    assert stored(thread) == (None, None)


# --- lists stay one query ----------------------------------------------------------------------


def test_a_page_of_answered_threads_still_costs_two_queries(
    client: Client, author: Any, django_assert_num_queries: Any
) -> None:
    accepted = {}
    for n in range(21):
        answered = make_thread(author, title=f"Question {n}")
        accepted[answered.pk] = reply_id()
        set_accepted(answered, accepted[answered.pk])

    # The threads with category and author (accepted_reply_id among their columns); the badges.
    with django_assert_num_queries(2):
        response = get(client, "/threads")

    items = body_of(response)["items"]
    assert len(items) == 20
    assert all(item["accepted_reply_id"] == accepted[item["id"]] for item in items)


# --- reply.deleted (the consumer) ----------------------------------------------------------------


@pytest.fixture
def feature_keys(settings: Any) -> None:
    accept_feature_keys(settings)


def reply_deleted(thread: Thread, reply: str, **data: Any) -> dict[str, Any]:
    """A reply.deleted envelope as the feature service delivers it."""
    return feature_envelope(
        REPLY_DELETED,
        {
            "reply_id": reply,
            "thread_id": thread.pk,
            "author_id": 4242,
            "actor": {"kind": "user", "id": 4242},
            **data,
        },
    )


def deliver(client: Client, envelope: dict[str, Any]) -> str:
    """POST it to core's internal listener, signed as the feature service; the status."""
    response = call(client, "POST", EVENTS, envelope)
    assert response.status_code == 200, response.content
    status: str = body_of(response)["status"]
    return status


@pytest.mark.usefixtures("feature_keys")
def test_deleting_the_accepted_reply_clears_it_once(client: Client, thread: Thread) -> None:
    reply = reply_id()
    set_accepted(thread, reply)
    envelope = reply_deleted(thread, reply)

    assert deliver(client, envelope) == "handled"

    assert stored(thread) == (None, None)
    record = HandledEvent.objects.get()
    assert (record.id, record.type, record.known) == (envelope["id"], REPLY_DELETED, True)

    # The author accepts another reply; then the old event comes again (the dispatcher never
    # saw the first answer): recorded as a duplicate, the new answer stays.
    newer = reply_id()
    set_accepted(thread, newer)
    kept = stored(thread)

    assert deliver(client, envelope) == "duplicate"

    assert stored(thread) == kept
    assert HandledEvent.objects.count() == 1


@pytest.mark.usefixtures("feature_keys")
def test_deleting_another_reply_leaves_the_accepted_one(client: Client, thread: Thread) -> None:
    reply = reply_id()
    set_accepted(thread, reply)
    kept = stored(thread)

    assert deliver(client, reply_deleted(thread, reply_id())) == "handled"

    assert stored(thread) == kept


@pytest.mark.usefixtures("feature_keys")
def test_a_fresh_copy_of_the_event_is_harmless(client: Client, thread: Thread) -> None:
    # The same fact under a new id (the feature service's reconcile republishes): no effect left.
    reply = reply_id()
    set_accepted(thread, reply)

    assert deliver(client, reply_deleted(thread, reply)) == "handled"
    assert deliver(client, reply_deleted(thread, reply)) == "handled"

    assert stored(thread) == (None, None)
    assert HandledEvent.objects.count() == 2


@pytest.mark.usefixtures("feature_keys")
def test_the_event_names_its_thread(client: Client, author: Any, thread: Thread) -> None:
    # The reply id is matched together with its thread: another thread is never touched.
    reply = reply_id()
    set_accepted(thread, reply)
    kept = stored(thread)
    other = make_thread(author, title="Another thread")

    assert deliver(client, reply_deleted(other, reply)) == "handled"

    assert stored(thread) == kept


@pytest.mark.usefixtures("feature_keys")
def test_a_deleted_threads_answer_is_cleared_too(client: Client, author: Any) -> None:
    # The reply is gone for good: a restored thread must not point at it.
    gone = make_thread(author, deleted=True)
    reply = reply_id()
    set_accepted(gone, reply)

    assert deliver(client, reply_deleted(gone, reply)) == "handled"

    assert stored(gone) == (None, None)


@pytest.mark.usefixtures("feature_keys")
def test_an_unknown_thread_changes_nothing(client: Client, thread: Thread) -> None:
    reply = reply_id()
    set_accepted(thread, reply)
    kept = stored(thread)

    assert deliver(client, reply_deleted(Thread(pk=thread.pk + 1000), reply)) == "handled"

    assert stored(thread) == kept
    assert HandledEvent.objects.count() == 1


@pytest.mark.usefixtures("feature_keys")
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reply_id": "rpl_short"}, "data.reply_id"),
        ({"thread_id": 0}, "data.thread_id"),
        ({"actor": {"kind": "robot", "id": 1}}, "data.actor.kind"),
    ],
    ids=["bad reply id", "bad thread id", "bad actor"],
)
def test_an_event_breaking_its_schema_is_422_and_changes_nothing(
    client: Client, thread: Thread, data: dict[str, Any], field: str
) -> None:
    reply = reply_id()
    set_accepted(thread, reply)
    kept = stored(thread)
    envelope = reply_deleted(thread, reply, **data)

    body = assert_problem(call(client, "POST", EVENTS, envelope), *BROKEN_RULE)

    assert error_fields(body) == {field}
    assert stored(thread) == kept
    assert not HandledEvent.objects.exists()
