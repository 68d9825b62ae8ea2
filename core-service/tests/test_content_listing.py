"""GET /threads: order, filters, keyset pages (stable under inserts, tamper-proof cursors) and the
query budget of every variant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.content.models import Thread
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields
from tests.content_helpers import (
    admin_token,
    body_of,
    get,
    make_admin,
    make_member,
    make_thread,
    user_token,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in body_of(response)["items"]]


def _all_pages(client: Client, **params: Any) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = body_of(get(client, "/threads", **params, **({"cursor": cursor} if cursor else {})))
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.fixture
def timeline() -> list[Thread]:
    """Six threads a minute apart (oldest first), over two authors and two categories, plus a
    deleted one in the middle of them."""
    ana, ben = make_member("ana"), make_member("ben")
    threads = [
        make_thread(
            ana if n % 2 == 0 else ben,
            title=f"Thread number {n}",
            category_slug="general" if n < 3 else "programming",
            created_at=T0 + timedelta(minutes=n),
        )
        for n in range(6)
    ]
    make_thread(
        ana, title="Deleted", created_at=T0 + timedelta(minutes=2, seconds=30), deleted=True
    )
    return threads


def test_newest_first_by_default_and_deleted_threads_never_listed(
    client: Client, timeline: list[Thread]
) -> None:
    response = get(client, "/threads")

    assert _ids(response) == [t.pk for t in reversed(timeline)]
    page = body_of(response)
    assert page["next_cursor"] is None
    first = page["items"][0]
    assert set(first) == {
        "id",
        "title",
        "summary",
        "category",
        "author",
        "created_at",
        "updated_at",
        "accepted_reply_id",
    }
    assert first["category"] == {"slug": "programming", "name": "Programming"}
    assert first["author"] == {
        "id": timeline[5].author_id,
        "username": "ben",
        "avatar_url": None,
        "primary_badge": None,
    }
    assert first["created_at"] == "2026-03-01T12:05:00Z"


def test_oldest_first(client: Client, timeline: list[Thread]) -> None:
    assert _ids(get(client, "/threads", sort="oldest")) == [t.pk for t in timeline]


def test_filter_by_category_and_by_author_and_both(client: Client, timeline: list[Thread]) -> None:
    assert _ids(get(client, "/threads", category="general")) == [
        timeline[2].pk,
        timeline[1].pk,
        timeline[0].pk,
    ]
    assert _ids(get(client, "/threads", author="ben")) == [
        timeline[5].pk,
        timeline[3].pk,
        timeline[1].pk,
    ]
    assert _ids(get(client, "/threads", author="BEN", category="programming")) == [
        timeline[5].pk,
        timeline[3].pk,
    ]
    assert _ids(get(client, "/threads", category="careers")) == []


def test_unknown_category_or_author_filters_are_422_field_errors(
    client: Client, timeline: list[Thread]
) -> None:
    body = assert_problem(get(client, "/threads", category="nowhere"), 422, "UNKNOWN_CATEGORY")
    assert error_fields(body) == {"category"}
    body = assert_problem(get(client, "/threads", author="nobody"), 422, "UNKNOWN_AUTHOR")
    assert error_fields(body) == {"author"}


@pytest.mark.parametrize(
    ("params", "expected", "fields"),
    [
        ({"sort": "popular"}, BROKEN_RULE, {"sort"}),
        ({"sort": "relevance"}, BROKEN_RULE, {"sort"}),
        ({"limit": "0"}, BROKEN_RULE, {"limit"}),
        ({"limit": "101"}, BROKEN_RULE, {"limit"}),
        ({"limit": "ten"}, BAD_SHAPE, {"limit"}),
        ({"categroy": "general"}, BAD_SHAPE, {"categroy"}),
    ],
)
def test_bad_list_parameters(
    client: Client, params: dict[str, str], expected: Any, fields: set[str]
) -> None:
    body = assert_problem(get(client, "/threads", **params), *expected)
    assert error_fields(body) == fields


def test_pages_follow_each_other_and_survive_concurrent_inserts(
    client: Client, timeline: list[Thread]
) -> None:
    first = body_of(get(client, "/threads", limit=2))
    assert [item["id"] for item in first["items"]] == [timeline[5].pk, timeline[4].pk]
    # New threads arrive (newest) and one is written with the same timestamp as the cursor row.
    make_thread(make_member("late"), created_at=T0 + timedelta(hours=1))
    make_thread(make_member("tied"), created_at=timeline[4].created_at)

    second = body_of(get(client, "/threads", limit=2, cursor=first["next_cursor"]))
    third = body_of(get(client, "/threads", limit=2, cursor=second["next_cursor"]))

    assert [item["id"] for item in second["items"]] == [timeline[3].pk, timeline[2].pk]
    assert [item["id"] for item in third["items"]] == [timeline[1].pk, timeline[0].pk]
    assert third["next_cursor"] is None


def test_oldest_first_pages_take_in_threads_written_meanwhile_at_the_end(
    client: Client, timeline: list[Thread]
) -> None:
    first = body_of(get(client, "/threads", sort="oldest", limit=4))
    late = make_thread(make_member("late"), created_at=T0 + timedelta(hours=1))

    rest = _all_pages(client, sort="oldest", limit=4, cursor=first["next_cursor"])

    assert [item["id"] for item in first["items"]] + rest == [
        *(t.pk for t in timeline),
        late.pk,
    ]


def test_every_page_of_a_filtered_list_is_complete(client: Client, timeline: list[Thread]) -> None:
    assert _all_pages(client, limit=1, category="programming") == [
        timeline[5].pk,
        timeline[4].pk,
        timeline[3].pk,
    ]


def test_tampered_or_foreign_cursors_are_400(client: Client, timeline: list[Thread]) -> None:
    cursor = body_of(get(client, "/threads", limit=2))["next_cursor"]
    oldest_cursor = body_of(get(client, "/threads", limit=2, sort="oldest"))["next_cursor"]
    search_cursor = body_of(get(client, "/threads", limit=2, q="thread"))["next_cursor"]
    assert None not in (cursor, oldest_cursor, search_cursor)

    for bad in [
        cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        "not-a-cursor",
        "eyJrIjoxLCJpIjoxLCJzIjoieCJ9",  # {"k":1,"i":1,"s":"x"}
        oldest_cursor,  # another ordering's cursor
        search_cursor,  # a relevance cursor on the recency list
    ]:
        body = assert_problem(
            get(client, "/threads", limit=2, cursor=bad), 400, "VALIDATION_FAILED"
        )
        assert error_fields(body) == {"cursor"}
    body = assert_problem(
        get(client, "/threads", limit=2, q="thread", cursor=cursor), 400, "VALIDATION_FAILED"
    )
    assert error_fields(body) == {"cursor"}


# --- query budgets ---------------------------------------------------------------------------


@pytest.fixture
def crowd() -> None:
    """25 threads by 5 authors, each author with a primary badge (and another badge)."""
    plain = Badge.objects.create(name="Member")
    for n in range(5):
        member = make_member(f"writer{n}")
        shiny = Badge.objects.create(name=f"Shiny {n}", rarity="epic")
        UserBadge.objects.create(user=member, badge=shiny, is_primary=True)
        UserBadge.objects.create(user=member, badge=plain)
        for m in range(5):
            make_thread(
                member,
                title=f"Searchable thread {n}-{m}",
                category_slug="general" if m % 2 else "questions",
                created_at=T0 + timedelta(minutes=5 * m + n),
            )


def test_a_page_of_20_costs_two_queries(
    client: Client, crowd: None, django_assert_num_queries: Any
) -> None:
    # The threads with category and author (LIMIT 21); the page's primary badges.
    with django_assert_num_queries(2):
        response = get(client, "/threads")
    items = body_of(response)["items"]
    assert len(items) == 20
    assert all(item["author"]["primary_badge"]["name"].startswith("Shiny") for item in items)
    assert {item["author"]["primary_badge"]["rarity"] for item in items} == {"epic"}


def test_a_category_page_costs_three_queries(
    client: Client, crowd: None, django_assert_num_queries: Any
) -> None:
    # The category by slug; the threads; the badges.
    with django_assert_num_queries(3):
        response = get(client, "/threads", category="general")
    assert {item["category"]["slug"] for item in body_of(response)["items"]} == {"general"}


def test_an_author_page_costs_three_queries(
    client: Client, crowd: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(3):  # the user by username; the threads; the badges
        response = get(client, "/threads", author="writer3")
    items = body_of(response)["items"]
    assert len(items) == 5
    assert {item["author"]["primary_badge"]["name"] for item in items} == {"Shiny 3"}


def test_a_search_page_costs_two_queries_and_three_with_a_category(
    client: Client, crowd: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):
        response = get(client, "/threads", q="searchable")
    assert len(body_of(response)["items"]) == 20
    with django_assert_num_queries(3):
        response = get(client, "/threads", q="searchable", category="questions")
    assert len(body_of(response)["items"]) == 15


def test_a_signed_in_reader_adds_only_the_session_lookup(
    client: Client, crowd: None, django_assert_num_queries: Any
) -> None:
    token = user_token(make_member("reader"))
    with django_assert_num_queries(3):  # the session (and its user); the threads; the badges
        assert len(body_of(get(client, "/threads", token=token))["items"]) == 20


def test_an_empty_page_skips_the_badge_query(
    client: Client, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert body_of(get(client, "/threads")) == {"items": [], "next_cursor": None}


def test_an_admin_token_reads_the_list_but_deleted_threads_stay_out(
    client: Client, timeline: list[Thread]
) -> None:
    token = admin_token(make_admin("list_ops"))

    assert _ids(get(client, "/threads", token=token)) == [t.pk for t in reversed(timeline)]
