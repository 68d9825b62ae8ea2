"""Concurrent writes on real connections: edits of one thread apply one after the other, and a
category deleted while a thread is being created in it ends one way or the other, never both.

Transactional tests (each call commits on its own connection); they make their own categories,
since the flush between transactional tests removes the migration's default set.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from alephdraad_core.content import services
from alephdraad_core.content.document import derived_summary
from alephdraad_core.content.errors import UnknownCategory
from alephdraad_core.content.models import Category, Thread
from alephdraad_core.content.search import search_query
from tests.concurrency import in_threads
from tests.content_helpers import (
    admin_token,
    doc,
    make_admin,
    make_member,
    make_thread,
    send,
    user_token,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_edits_leave_text_summary_and_vector_consistent() -> None:
    Category.objects.get_or_create(slug="general", defaults={"name": "General"})
    author = make_member("racer")
    token = user_token(author)
    thread = make_thread(author, body="start")

    def edit(word: str) -> Any:
        def call() -> int:
            response = send(
                Client(),
                "PATCH",
                f"/threads/{thread.pk}",
                {"content_json": doc(f"{word} " * 50)},
                token=token,
            )
            return response.status_code

        return call

    assert in_threads(edit("alpha"), edit("omega")) == [200, 200]

    stored = Thread.objects.get(pk=thread.pk)
    [word] = {node["text"].split()[0] for node in stored.content_json["content"][0]["content"]}
    assert stored.content_text == f"{word} " * 50
    assert stored.summary == derived_summary(stored.content_text)
    other = "omega" if word == "alpha" else "alpha"
    assert Thread.objects.filter(pk=thread.pk, search_vector=search_query(word)).exists()
    assert not Thread.objects.filter(pk=thread.pk, search_vector=search_query(other)).exists()


@pytest.mark.parametrize("round_", range(4))
def test_deleting_a_category_while_a_thread_is_created_in_it(round_: int) -> None:
    slug = f"doomed-{round_}"
    Category.objects.create(slug=slug, name="Doomed")
    member_token = user_token(make_member(f"poster{round_}"))
    staff_token = admin_token(make_admin(f"deleter{round_}"))
    payload = {"category_slug": slug, "title": "Just in time", "content_json": doc("hello")}

    created, deleted = in_threads(
        lambda: send(Client(), "POST", "/threads", payload, token=member_token),
        lambda: send(Client(), "DELETE", f"/admin/categories/{slug}", token=staff_token),
    )

    outcome = (created.status_code, deleted.status_code)
    assert outcome in {(201, 409), (422, 204)}, (created.content, deleted.content)
    if outcome == (201, 409):
        assert Thread.objects.filter(category__slug=slug).count() == 1
    else:
        assert not Category.objects.filter(slug=slug).exists()
        assert not Thread.objects.exists()


def test_a_category_deleted_between_lookup_and_insert_is_unknown_category(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = Category.objects.create(slug="vanishing", name="Vanishing")
    Category.objects.filter(pk=stale.pk).delete()
    # The lookup still finds it (as it did a moment before the delete committed).
    monkeypatch.setattr(services, "category_named_by", lambda slug, *, field: stale)

    with pytest.raises(UnknownCategory) as caught:
        services.do_create_thread(
            make_member("late_poster"),
            category_slug="vanishing",
            title="Too late",
            summary="",
            content_json=doc("hello"),
        )

    assert caught.value.errors == [
        {"field": "category_slug", "message": "No category has this slug."}
    ]
    assert not Thread.objects.exists()
