"""Cursor pagination (DESIGN section 3): keyset pages, signed cursors, strict query parameters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from alephdraad_core.authn.models import Session
from alephdraad_core.platform.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidPageRequest,
    KeysetPagination,
    PageQuerySerializer,
    page_serializer,
)
from alephdraad_core.security.models import SecurityEvent
from tests.admins_helpers import make_session, make_user

pytestmark = pytest.mark.django_db

NEWEST_FIRST = KeysetPagination(scope="test.events", key="created_at")
OLDEST_FIRST = KeysetPagination(scope="test.events.asc", key="created_at", descending=False)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _events(
    count: int, *, start: datetime = T0, step: timedelta = timedelta(seconds=1)
) -> list[int]:
    SecurityEvent.objects.bulk_create(
        SecurityEvent(event_type=f"e{i}", created_at=start + step * i) for i in range(count)
    )
    return list(SecurityEvent.objects.order_by("id").values_list("id", flat=True))


def _walk(pagination: KeysetPagination, limit: int) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = None
    while True:
        page = pagination.paginate(SecurityEvent.objects.all(), limit=limit, cursor=cursor)
        pages.append([event.pk for event in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def _ids_newest_first() -> list[int]:
    return list(SecurityEvent.objects.order_by("-created_at", "-id").values_list("id", flat=True))


def _invalid_field(error: pytest.ExceptionInfo[InvalidPageRequest]) -> str:
    assert error.value.problem_type.code == "VALIDATION_FAILED"
    assert error.value.problem_type.status == 400
    return error.value.errors[0]["field"]


def test_pages_walk_every_row_once_newest_first() -> None:
    _events(45)

    pages = _walk(NEWEST_FIRST, limit=20)

    assert [len(page) for page in pages] == [20, 20, 5]
    assert [pk for page in pages for pk in page] == _ids_newest_first()


def test_ties_on_the_sort_key_are_broken_by_id() -> None:
    # Ten rows share each timestamp: only the id tie-breaker keeps pages from overlapping.
    _events(30, step=timedelta(0))

    pages = _walk(NEWEST_FIRST, limit=7)

    flat = [pk for page in pages for pk in page]
    assert flat == sorted(flat, reverse=True)
    assert len(flat) == len(set(flat)) == 30


def test_ascending_order() -> None:
    ids = _events(12)

    pages = _walk(OLDEST_FIRST, limit=5)

    assert [pk for page in pages for pk in page] == ids
    assert [len(page) for page in pages] == [5, 5, 2]


def test_exact_multiple_of_the_limit_ends_with_a_null_cursor() -> None:
    _events(10)

    page = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=10)

    assert len(page.items) == 10
    assert page.next_cursor is None


def test_empty_list() -> None:
    page = NEWEST_FIRST.paginate(SecurityEvent.objects.all())

    assert page.items == []
    assert page.next_cursor is None


def test_paging_is_stable_when_rows_are_inserted_between_requests() -> None:
    _events(25)
    expected = _ids_newest_first()

    first = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=10)
    # Newer rows arrive while the client reads page one (the usual case for a log).
    _events(5, start=T0 + timedelta(days=1))
    second = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=10, cursor=first.next_cursor)
    _events(3, start=T0 + timedelta(days=2))
    third = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=10, cursor=second.next_cursor)

    seen = [event.pk for page in (first, second, third) for event in page.items]
    assert seen == expected
    assert third.next_cursor is None


def test_keyset_query_compares_a_row_and_never_uses_offset() -> None:
    _events(5)
    cursor = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=2).next_cursor

    with CaptureQueriesContext(connection) as queries:
        NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=2, cursor=cursor)

    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"]
    assert '("security_events"."created_at", "security_events"."id") < (' in sql
    assert "OFFSET" not in sql.upper()
    assert "LIMIT 3" in sql


def test_uuid_tiebreaker_and_microseconds_round_trip() -> None:
    user = make_user()
    moment = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    sessions = [make_session(user, created_at=moment) for _ in range(5)]
    pagination = KeysetPagination(scope="test.sessions", key="created_at")

    seen: list[Any] = []
    cursor = None
    while True:
        page = pagination.paginate(Session.objects.all(), limit=2, cursor=cursor)
        seen.extend(session.pk for session in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert sorted(seen) == sorted(session.pk for session in sessions)
    assert seen == sorted(seen, reverse=True)


def test_values_rows_can_be_paginated() -> None:
    _events(3)

    page = NEWEST_FIRST.paginate(SecurityEvent.objects.values("id", "created_at"), limit=2)
    rest = NEWEST_FIRST.paginate(
        SecurityEvent.objects.values("id", "created_at"), limit=2, cursor=page.next_cursor
    )

    assert [row["id"] for row in page.items + rest.items] == _ids_newest_first()


def _decoded(cursor: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    )
    return payload


def _encoded(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def test_cursor_is_url_safe_and_carries_the_position() -> None:
    _events(3)

    cursor = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=1).next_cursor

    assert cursor is not None
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    payload = _decoded(cursor)
    assert payload["i"] == _ids_newest_first()[0]
    assert payload["k"].startswith("2026-01-01T00:00:02")


def _tampered_cursors(cursor: str) -> dict[str, str]:
    payload = _decoded(cursor)
    return {
        "moved id": _encoded({**payload, "i": payload["i"] + 1}),
        "moved key": _encoded({**payload, "k": "2030-01-01T00:00:00+00:00"}),
        "no signature": _encoded({"k": payload["k"], "i": payload["i"]}),
        "extra member": _encoded({**payload, "x": 1}),
        "signature not a string": _encoded({**payload, "s": 12}),
        "flipped character": cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:],
        "not base64": "!!!not-a-cursor!!!",
        "not json": base64.urlsafe_b64encode(b"\xff\x00garbage").decode(),
        "json list": _encoded([1, 2]),  # type: ignore[arg-type]
        "overlong": "A" * 600,
    }


@pytest.mark.parametrize(
    "kind",
    [
        "moved id",
        "moved key",
        "no signature",
        "extra member",
        "signature not a string",
        "flipped character",
        "not base64",
        "not json",
        "json list",
        "overlong",
    ],
)
def test_tampered_or_forged_cursor_is_refused(kind: str) -> None:
    _events(3)
    cursor = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=1).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidPageRequest) as error:
        NEWEST_FIRST.paginate(
            SecurityEvent.objects.all(), limit=1, cursor=_tampered_cursors(cursor)[kind]
        )

    assert _invalid_field(error) == "cursor"


def test_cursor_of_another_list_is_refused() -> None:
    _events(3)
    other_list = KeysetPagination(scope="test.other", key="created_at")
    cursor = other_list.paginate(SecurityEvent.objects.all(), limit=1).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidPageRequest) as error:
        NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=1, cursor=cursor)

    assert _invalid_field(error) == "cursor"


def test_cursor_signed_with_another_secret_is_refused(settings: Any) -> None:
    _events(3)
    settings.SECRET_KEY = "another-deployment-secret-0123456789abcdefghij"
    foreign = NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=1).next_cursor
    settings.SECRET_KEY = "core-service-tests-only-secret-key-0123456789abcdef"
    assert foreign is not None

    with pytest.raises(InvalidPageRequest):
        NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=1, cursor=foreign)


def test_signed_but_unparseable_position_is_refused() -> None:
    # Only code with the secret can make this: a signed position whose key is not a datetime.
    forged = NEWEST_FIRST.encode_cursor("not-a-date", 5)

    with pytest.raises(InvalidPageRequest) as error:
        NEWEST_FIRST.paginate(SecurityEvent.objects.all(), cursor=forged)

    assert _invalid_field(error) == "cursor"


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
def test_paginate_refuses_a_limit_out_of_range(limit: int) -> None:
    with pytest.raises(InvalidPageRequest) as error:
        NEWEST_FIRST.paginate(SecurityEvent.objects.all(), limit=limit)

    assert _invalid_field(error) == "limit"


def test_paginating_by_a_relation_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        KeysetPagination(scope="x", key="user").paginate(SecurityEvent.objects.all())
    with pytest.raises(TypeError):
        KeysetPagination(scope="x", key="nope").paginate(SecurityEvent.objects.all())


# The query serializer, as views use it with request.query_params.


def _query(**params: str) -> PageQuerySerializer:
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    query.update(params)
    return PageQuerySerializer(data=query)


def test_query_defaults() -> None:
    query = _query()

    assert query.is_valid(), query.errors
    assert query.validated_data == {"limit": DEFAULT_PAGE_SIZE}


def test_query_takes_empty_parameters_as_absent() -> None:
    query = _query(limit="", cursor="")

    assert query.is_valid(), query.errors
    assert query.validated_data == {"limit": DEFAULT_PAGE_SIZE, "cursor": ""}


def test_query_accepts_a_limit_and_an_empty_cursor() -> None:
    query = _query(limit="100", cursor="")

    assert query.is_valid(), query.errors
    assert query.validated_data == {"limit": 100, "cursor": ""}


@pytest.mark.parametrize("limit", ["0", "101", "-5", "abc", "2.5", "1e3"])
def test_query_refuses_a_bad_limit(limit: str) -> None:
    query = _query(limit=limit)

    assert not query.is_valid()
    assert set(query.errors) == {"limit"}


def test_query_refuses_unknown_parameters() -> None:
    query = _query(limt="5")

    assert not query.is_valid()
    assert set(query.errors) == {"limt"}


def test_query_refuses_an_overlong_cursor() -> None:
    query = _query(cursor="A" * 513)

    assert not query.is_valid()
    assert set(query.errors) == {"cursor"}


def test_page_serializer_shape() -> None:
    class ThingSerializer(serializers.Serializer):
        name = serializers.CharField()

    page_class = page_serializer(ThingSerializer, "ThingPageSerializer")

    assert page_class.__name__ == "ThingPageSerializer"
    data = page_class({"items": [{"name": "a"}], "next_cursor": None}).data
    assert data == {"items": [{"name": "a"}], "next_cursor": None}
