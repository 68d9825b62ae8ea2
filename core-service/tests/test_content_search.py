"""GET /threads?q=: full-text search over title, summary and text, ranked, combined with filters,
paged by relevance, and kept current by every write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from alephdraad_core.content.models import Thread
from tests.content_helpers import (
    admin_token,
    body_of,
    doc,
    get,
    make_admin,
    make_member,
    make_thread,
    send,
    user_token,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def _search(client: Client, q: str, **params: Any) -> list[int]:
    response = get(client, "/threads", q=q, **params)
    assert response.status_code == 200, response.content
    return [item["id"] for item in body_of(response)["items"]]


@pytest.fixture
def author() -> Any:
    return make_member("searcher")


def test_a_title_match_ranks_above_a_summary_match_above_a_body_match(
    client: Client, author: Any
) -> None:
    # Created best-last, so neither id nor recency explains the order.
    in_body = make_thread(
        author, title="Cluster notes", body="We run everything on kubernetes nowadays."
    )
    in_summary = make_thread(
        author, title="Deployment notes", summary="Why kubernetes?", body="A long story."
    )
    in_title = make_thread(author, title="Kubernetes in production", body="Lessons learned.")
    make_thread(author, title="Unrelated", body="Nothing about containers at all.")

    assert _search(client, "kubernetes") == [in_title.pk, in_summary.pk, in_body.pk]
    # Case does not matter, on either side.
    assert _search(client, "KuberNetes") == [in_title.pk, in_summary.pk, in_body.pk]


def test_search_combines_with_the_category_filter(client: Client, author: Any) -> None:
    general = make_thread(author, title="Belajar Python untuk pemula", category_slug="general")
    programming = make_thread(
        author, title="Belajar Go", body="belajar bersama", category_slug="programming"
    )
    make_thread(author, title="Tips karier", category_slug="careers")

    assert set(_search(client, "belajar")) == {general.pk, programming.pk}
    assert _search(client, "belajar", category="programming") == [programming.pk]
    assert _search(client, "belajar", category="careers") == []


def test_web_search_syntax_and_whole_words(client: Client, author: Any) -> None:
    both = make_thread(author, title="Postgres tuning", body="indexes and vacuum")
    only_postgres = make_thread(author, title="Postgres backups", body="pg_dump every night")

    assert _search(client, "postgres vacuum") == [both.pk]  # all words must match
    assert set(_search(client, "vacuum or backups")) == {both.pk, only_postgres.pk}
    assert _search(client, "postgres -vacuum") == [only_postgres.pk]
    assert _search(client, '"postgres tuning"') == [both.pk]
    # No stemming (the `simple` configuration): a word matches itself only.
    assert _search(client, "index") == []
    assert _search(client, "pemrograman") == []


def test_mentions_and_marked_text_are_searchable(client: Client, author: Any) -> None:
    content = {
        "type": "doc",
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "ping "},
                    {"type": "mention", "attrs": {"id": author.pk, "label": "searcher"}},
                    {"type": "text", "text": ", see "},
                    {"type": "text", "text": "boldword", "marks": [{"type": "bold"}]},
                ],
            }
        ],
    }
    token = user_token(author)
    response = send(
        client,
        "POST",
        "/threads",
        {"category_slug": "general", "title": "Mentions", "content_json": content},
        token=token,
    )
    assert response.status_code == 201
    thread_id = body_of(response)["id"]

    assert _search(client, "searcher") == [thread_id]
    assert _search(client, "boldword") == [thread_id]


def test_edits_keep_the_search_vector_current_and_deleted_threads_are_not_found(
    client: Client, author: Any
) -> None:
    token = user_token(author)
    thread = make_thread(author, title="Original wording", body="apples")

    send(
        client,
        "PATCH",
        f"/threads/{thread.pk}",
        {"title": "Reworded title", "content_json": doc("oranges")},
        token=token,
    )
    assert _search(client, "original") == []
    assert _search(client, "apples") == []
    assert _search(client, "reworded") == [thread.pk]
    assert _search(client, "oranges") == [thread.pk]

    send(client, "DELETE", f"/threads/{thread.pk}", token=token)
    assert _search(client, "reworded") == []
    # Restored: searchable again, with the vector it had.
    staff = admin_token(make_admin("search_ops"))
    send(client, "POST", f"/admin/threads/{thread.pk}/restore", token=staff)
    assert _search(client, "oranges") == [thread.pk]


def test_relevance_pages_walk_ties_by_id_without_repeats(client: Client, author: Any) -> None:
    # Identical texts rank the same: the id decides, and the rank must survive the cursor.
    tied = [make_thread(author, title="Same words here", body="same") for _ in range(5)]
    better = make_thread(author, title="Same same same", body="same words")

    ids: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = body_of(get(client, "/threads", q="same", **params))
        ids.extend(item["id"] for item in page["items"])
        pages += 1
        if pages == 1:
            # Written between two requests: it neither repeats nor shifts what follows.
            make_thread(author, title="Same words here", body="same")
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert ids == [better.pk, *sorted((t.pk for t in tied), reverse=True)]


def test_search_can_be_sorted_by_recency_instead(client: Client, author: Any) -> None:
    old = make_thread(author, title="Rust rust rust", created_at=T0)
    new = make_thread(author, title="Something", body="rust", created_at=T0 + timedelta(days=1))

    assert _search(client, "rust") == [old.pk, new.pk]
    assert _search(client, "rust", sort="latest") == [new.pk, old.pk]
    assert _search(client, "rust", sort="oldest") == [old.pk, new.pk]


def test_a_query_of_only_punctuation_or_blank_is_harmless(client: Client, author: Any) -> None:
    thread = make_thread(author, title="Anything")

    assert _search(client, "!!! ???") == []
    assert _search(client, "   ") == [thread.pk]  # blank: no search, the plain list
    assert Thread.objects.count() == 1
