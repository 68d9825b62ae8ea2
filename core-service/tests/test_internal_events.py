"""POST /internal/v1/events: events the feature service publishes, handled once per id."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from alephdraad_contracts import USER_REGISTERED
from alephdraad_core.outbox import consumers
from alephdraad_core.outbox.consumers import (
    HANDLED_EVENT_TYPES,
    ConsumerAlreadyRegistered,
    register_consumer,
    registered_event_types,
)
from alephdraad_core.outbox.models import HandledEvent
from tests.concurrency import in_threads
from tests.conftest import BAD_SHAPE, BROKEN_RULE, JsonLogCapture, assert_problem, error_fields
from tests.internal_support import accept_feature_keys, call
from tests.outbox_support import EVENTS, feature_envelope

pytestmark = pytest.mark.django_db

COUNTED = "test.counted"


@pytest.fixture(autouse=True)
def _accept_feature_keys(settings: Any) -> None:
    accept_feature_keys(settings)


class Counted:
    """A consumer registered for the test type: records what it was given."""

    def __init__(self) -> None:
        self.calls: list[Mapping[str, Any]] = []
        self.fail = False

    def __call__(self, data: Mapping[str, Any]) -> None:
        self.calls.append(data)
        if self.fail:
            raise RuntimeError("consumer failed")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """A consumer of `test.counted` v1 in a registry of its own, gone after the test."""
    monkeypatch.setattr(consumers, "_consumers", {})
    consumer = Counted()
    register_consumer(COUNTED)(consumer)
    return consumer


def _post(client: Client, body: Any) -> Any:
    return call(client, "POST", EVENTS, body)


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


# --- handled once -------------------------------------------------------------------------------


def test_an_event_is_handled_once_and_recorded(client: Client, counted: Counted) -> None:
    envelope = feature_envelope(data={"reply_id": "rpl_1", "thread_id": 7})

    assert _ok(_post(client, envelope)) == {"status": "handled"}

    assert counted.calls == [{"reply_id": "rpl_1", "thread_id": 7}]
    record = HandledEvent.objects.get()
    assert (record.id, record.type, record.producer, record.known) == (
        envelope["id"],
        COUNTED,
        "feature-service",
        True,
    )
    assert record.data == {"reply_id": "rpl_1", "thread_id": 7}
    assert record.occurred_at == datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


def test_a_redelivery_is_a_duplicate_with_no_second_effect(
    client: Client, counted: Counted, json_log: JsonLogCapture
) -> None:
    envelope = feature_envelope()
    assert _ok(_post(client, envelope)) == {"status": "handled"}

    # The sender never saw the first answer and sends it again (a new signature and nonce).
    assert _ok(_post(client, envelope)) == {"status": "duplicate"}

    assert len(counted.calls) == 1
    assert HandledEvent.objects.count() == 1
    [duplicate] = json_log.messages("duplicate event ignored")
    assert duplicate["event_id"] == envelope["id"]


def test_a_consumer_that_fails_leaves_no_record_so_the_redelivery_is_handled(
    counted: Counted,
) -> None:
    client = Client(raise_request_exception=False)
    envelope = feature_envelope()
    counted.fail = True

    assert_problem(_post(client, envelope), 500, "INTERNAL_ERROR")
    # The record and the effect share one transaction: neither survived.
    assert not HandledEvent.objects.exists()

    counted.fail = False
    assert _ok(_post(client, envelope)) == {"status": "handled"}
    assert len(counted.calls) == 2
    assert HandledEvent.objects.get().id == envelope["id"]


@pytest.mark.parametrize(
    ("event_type", "version"),
    [("reply.accepted", 1), (COUNTED, 2)],
    ids=["unknown type", "unknown version"],
)
def test_an_event_with_no_consumer_is_recorded_and_acknowledged(
    client: Client, counted: Counted, json_log: JsonLogCapture, event_type: str, version: int
) -> None:
    envelope = feature_envelope(event_type, {"anything": [1, 2]}, version=version)

    # Acknowledged, not refused: refusing would make the sender retry it forever.
    assert _ok(_post(client, envelope)) == {"status": "handled"}

    assert counted.calls == []
    record = HandledEvent.objects.get()
    assert (record.id, record.type, record.known, record.data) == (
        envelope["id"],
        event_type,
        False,
        {"anything": [1, 2]},
    )
    [warning] = json_log.messages("event with no consumer acknowledged")
    assert (warning["level"], warning["event_type"], warning["version"]) == (
        "warning",
        event_type,
        version,
    )
    assert _ok(_post(client, envelope)) == {"status": "duplicate"}


# --- refused ------------------------------------------------------------------------------------


def test_a_body_that_is_not_an_object_is_400(client: Client, counted: Counted) -> None:
    body = assert_problem(_post(client, [feature_envelope()]), *BAD_SHAPE)

    assert body["errors"] == [
        {"field": "", "message": "Must be a JSON object (an event envelope)."}
    ]
    assert counted.calls == []
    assert not HandledEvent.objects.exists()


def test_missing_and_unknown_envelope_fields_are_400_naming_each(
    client: Client, counted: Counted
) -> None:
    envelope = feature_envelope()
    del envelope["id"], envelope["data"]
    envelope["payload"] = {}

    body = assert_problem(_post(client, envelope), *BAD_SHAPE)

    assert body["errors"] == [
        {"field": "data", "message": "This field is required."},
        {"field": "id", "message": "This field is required."},
        {"field": "payload", "message": "Unknown field."},
    ]
    assert counted.calls == []
    assert not HandledEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "evt_not-a-ulid"),
        ("type", "Reply Accepted"),
        ("version", "1"),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-11-25T12:00:00"),  # no offset
        ("occurred_at", "2016-12-31T23:59:60Z"),  # a leap second: RFC 3339, not storable
        ("producer", "mallory"),
        ("data", ["not", "an", "object"]),
    ],
)
def test_malformed_envelope_fields_are_400(
    client: Client, counted: Counted, field: str, value: Any
) -> None:
    envelope = {**feature_envelope(), field: value}

    body = assert_problem(_post(client, envelope), *BAD_SHAPE)

    assert error_fields(body) == {field}
    assert counted.calls == []
    assert not HandledEvent.objects.exists()


def test_data_that_breaks_its_schema_is_422_with_the_contracts_message(
    client: Client, json_log: JsonLogCapture
) -> None:
    envelope = feature_envelope(USER_REGISTERED, {"user_id": 0, "username": "mira"})

    body = assert_problem(_post(client, envelope), *BROKEN_RULE)

    assert body["detail"] == "/data/user_id: 0 is less than the minimum of 1"
    assert body["errors"] == [
        {"field": "data.user_id", "message": "0 is less than the minimum of 1"}
    ]
    assert not HandledEvent.objects.exists()


def test_an_envelope_claiming_another_producer_is_422(client: Client, counted: Counted) -> None:
    # Signed by the feature service, but speaking for core: a producer speaks only for itself.
    envelope = feature_envelope(producer="core-service")

    body = assert_problem(_post(client, envelope), *BROKEN_RULE)

    assert error_fields(body) == {"producer"}
    assert "'feature-service'" in body["detail"]
    assert counted.calls == []
    assert not HandledEvent.objects.exists()


def test_an_unsigned_call_is_401_and_records_nothing(client: Client, counted: Counted) -> None:
    response = client.post(EVENTS, feature_envelope(), content_type="application/json")

    body = assert_problem(response, 401, "SIGNATURE_REJECTED")
    assert body["reason"] == "missing_signature"
    assert response["WWW-Authenticate"] == "Signature"
    assert counted.calls == []
    assert not HandledEvent.objects.exists()


# --- the registry -------------------------------------------------------------------------------


def test_the_declared_event_types_are_exactly_the_registered_consumers() -> None:
    # Every app's consumers module was imported at start-up (OutboxConfig.ready).
    assert registered_event_types() == HANDLED_EVENT_TYPES


def test_a_type_and_version_can_have_only_one_consumer(counted: Counted) -> None:
    with pytest.raises(ConsumerAlreadyRegistered, match=r"test\.counted v1"):
        register_consumer(COUNTED)(Counted())
    register_consumer(COUNTED, version=2)(Counted())
    assert registered_event_types() == {COUNTED}


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_is_handled_once(counted: Counted) -> None:
    envelope = feature_envelope()

    def deliver() -> Any:
        return _ok(_post(Client(), envelope))

    answers = in_threads(deliver, deliver)

    assert sorted(answer["status"] for answer in answers) == ["duplicate", "handled"]
    assert len(counted.calls) == 1
    assert HandledEvent.objects.get().id == envelope["id"]
