import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from alephdraad_contracts import (
    EVENT_ID_PREFIX,
    EVENT_VERSIONS,
    REPLY_DELETED,
    SCHEMAS_DIR,
    THREAD_DELETED,
    THREAD_MOVED,
    USER_LOCKED,
    USER_REGISTERED,
    USER_RENAMED,
    EventInvalid,
    event_schema_name,
    load_schema,
    make_event,
    new_event_id,
    new_ulid,
    validate_event,
)

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)

# One valid `data` per event type: every type must have an example, so a new type without a
# schema (or with a schema its example breaks) fails here.
EXAMPLES: dict[str, dict[str, Any]] = {
    "user.registered": {"user_id": 7, "username": "budi"},
    "user.renamed": {"user_id": 7, "old_username": "budi", "username": "budi_s"},
    "user.locked": {
        "user_id": 7,
        "until": "2026-12-01T00:00:00Z",
        "reason": "spam",
        "actor": {"kind": "admin", "id": 3},
    },
    "user.unlocked": {"user_id": 7, "actor": {"kind": "admin", "id": 3}},
    "user.deleted": {"user_id": 7},
    "thread.deleted": {"thread_id": 11, "author_id": 7, "reason": "", "actor": None},
    "thread.restored": {"thread_id": 11, "author_id": 7},
    "thread.moved": {
        "thread_id": 11,
        "from_category_id": 1,
        "to_category_id": 2,
        "from_author_id": 7,
        "to_author_id": 7,
    },
    "reply.deleted": {
        "reply_id": "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X",
        "thread_id": 11,
        "author_id": 9,
        "actor": {"kind": "user", "id": 9},
    },
}


def test_every_event_type_has_a_schema_file_and_an_example() -> None:
    assert set(EXAMPLES) == set(EVENT_VERSIONS)
    for event_type, version in EVENT_VERSIONS.items():
        name = event_schema_name(event_type, version)
        assert (SCHEMAS_DIR / f"{name}.schema.json").is_file()
        assert load_schema(name)["$id"] == f"urn:alephdraad:schema:{name}"


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_make_event_builds_a_valid_envelope(event_type: str) -> None:
    event = make_event(event_type, EXAMPLES[event_type], producer="core-service", now=NOW)
    assert event["id"].startswith(EVENT_ID_PREFIX)
    assert event["type"] == event_type
    assert event["version"] == 1
    assert event["occurred_at"] == "2026-11-25T03:00:00Z"
    assert event["data"] == EXAMPLES[event_type]
    validate_event(event)


def test_occurred_at_is_written_in_utc() -> None:
    jakarta = timezone(timedelta(hours=7))
    event = make_event(
        USER_REGISTERED,
        EXAMPLES[USER_REGISTERED],
        producer="core-service",
        now=NOW.astimezone(jakarta),
    )
    assert event["occurred_at"] == "2026-11-25T03:00:00Z"


def test_make_event_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    event = make_event(USER_REGISTERED, EXAMPLES[USER_REGISTERED], producer="feature-service")
    moment = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    assert moment >= before


def test_make_event_refuses_naive_times_unknown_types_and_bad_data() -> None:
    with pytest.raises(EventInvalid, match="timezone-aware"):
        make_event(
            USER_REGISTERED,
            EXAMPLES[USER_REGISTERED],
            producer="core-service",
            now=NOW.replace(tzinfo=None),
        )
    with pytest.raises(EventInvalid, match="unknown event type"):
        make_event("user.exploded", {}, producer="core-service")
    with pytest.raises(EventInvalid, match=r"^/data: 'username' is a required property"):
        make_event(USER_REGISTERED, {"user_id": 7}, producer="core-service")
    with pytest.raises(EventInvalid, match=r"^/data/user_id: 0 is less than the minimum"):
        make_event(USER_REGISTERED, {"user_id": 0, "username": "x"}, producer="core-service")
    with pytest.raises(EventInvalid, match="producer"):
        make_event(USER_REGISTERED, EXAMPLES[USER_REGISTERED], producer="someone")


def test_formats_are_checked() -> None:
    data = dict(EXAMPLES[USER_LOCKED], until="next tuesday")
    with pytest.raises(EventInvalid, match=r"^/data/until: 'next tuesday' is not a 'date-time'"):
        make_event(USER_LOCKED, data, producer="core-service")


def test_extra_fields_are_refused_in_data_and_envelope() -> None:
    with pytest.raises(EventInvalid, match="Additional properties"):
        make_event(USER_RENAMED, dict(EXAMPLES[USER_RENAMED], email="x@y"), producer="core-service")
    event = make_event(THREAD_DELETED, EXAMPLES[THREAD_DELETED], producer="core-service")
    event["extra"] = 1
    with pytest.raises(EventInvalid, match=r"^: Additional properties"):
        validate_event(event)


@pytest.mark.parametrize(
    "reply_id",
    [
        "rpl_01kaz3qf0v8m2n4p6r8s9t0w1x",  # lower case: producers write upper case
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1",  # 25 characters
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0WIX",  # I is not Crockford base32
        "rct_01KAZ3QF0V8M2N4P6R8S9T0W1X",  # a reaction id
        "rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X\n",  # `$` alone would let the newline through
    ],
)
def test_reply_ids_are_rpl_and_a_ulid(reply_id: str) -> None:
    data = dict(EXAMPLES[REPLY_DELETED], reply_id=reply_id)
    with pytest.raises(EventInvalid, match=r"^/data/reply_id: "):
        make_event(REPLY_DELETED, data, producer="feature-service")


def test_unknown_types_and_versions_pass_with_the_envelope_checked() -> None:
    event = make_event(THREAD_MOVED, EXAMPLES[THREAD_MOVED], producer="core-service")
    validate_event(dict(event, type="badge.awarded", data={"anything": True}))
    validate_event(dict(event, version=2, data={"new": "shape"}))
    with pytest.raises(EventInvalid, match=r"^/id: 'evt_x' does not match"):
        validate_event(dict(event, id="evt_x"))
    with pytest.raises(EventInvalid, match="is not of type 'object'"):
        validate_event(["not", "an", "object"])


def test_ulids_are_crockford_base32_and_sort_by_time() -> None:
    earlier = new_ulid(NOW)
    later = new_ulid(NOW + timedelta(milliseconds=1))
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", earlier)
    assert earlier < later
    assert earlier[:10] == new_ulid(NOW)[:10]  # the time part
    assert new_ulid() != new_ulid()
    assert re.fullmatch(r"evt_[0-9A-HJKMNP-TV-Z]{26}", new_event_id())
