"""What an actor may read: categories (everyone) and threads (live ones to everyone, deleted ones
to admins only). Views never fetch a thread by raw id: they go through `access_thread` or
`access_own_thread`, which answer THREAD_NOT_FOUND for anything the actor may not see."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.content.errors import (
    CategoryNotFound,
    ThreadNotFound,
    UnknownAuthor,
    UnknownCategory,
)
from alephdraad_core.content.models import Category, Thread
from alephdraad_core.content.schemas import SORT_LATEST, SORT_OLDEST
from alephdraad_core.content.search import search_query, search_rank
from alephdraad_core.platform.pagination import KeysetPagination, Page

Actor = User | Admin | None

# Newest first / oldest first: keyset pages on (created_at, id), served by the partial indexes
# idx_threads_live_recent, idx_threads_live_category and idx_threads_live_author (read
# backwards for oldest first).
THREAD_PAGES = {
    SORT_LATEST: KeysetPagination(scope="content.threads", key="created_at"),
    SORT_OLDEST: KeysetPagination(scope="content.threads", key="created_at", descending=False),
}
# Search results by relevance: (rank, id) descending. Only the cursor codec is used (rank is a
# computed value, not a column); the scope keeps these cursors apart from the lists above.
SEARCH_CURSORS = KeysetPagination(scope="content.threads.search", key="rank")
_RANK_FIELD = models.FloatField()
_ID_FIELD = models.BigIntegerField()

# A list item's columns: never content_json (up to 64 KiB a row) nor the search vector.
_LIST_COLUMNS = (
    "id",
    "title",
    "summary",
    "created_at",
    "updated_at",
    "accepted_reply_id",
    "category__slug",
    "category__name",
    "author__username",
    "author__avatar_url",
)


def categories_in_order() -> list[Category]:
    """Every category, by order_index then id (idx_categories_order). A small set: no pages."""
    return list(Category.objects.order_by("order_index", "id"))


def access_category(slug: str) -> Category:
    """The category with this slug (a route parameter), else 404 CATEGORY_NOT_FOUND."""
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise CategoryNotFound(f"There is no category {slug!r}.")
    return category


def category_named_by(slug: str, *, field: str) -> Category:
    """The category a body field or query parameter names, else 422 UNKNOWN_CATEGORY on it."""
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise UnknownCategory(field, slug)
    return category


def author_named_by(username: str, *, field: str) -> User:
    """The user a query parameter names by username, else 422 UNKNOWN_AUTHOR on it."""
    user = User.objects.filter(username=username).only("id", "username").first()
    if user is None:
        raise UnknownAuthor(field, "No user has this username.")
    return user


def access_thread(actor: Actor, thread_id: int) -> Thread:
    """The thread, with its category and author, if `actor` may read it: a live thread for
    anyone (anonymous included), a deleted one for admins only. Else THREAD_NOT_FOUND, the same
    answer as for an id that never existed."""
    threads = Thread.objects.select_related("category", "author")
    if not isinstance(actor, Admin):
        threads = threads.filter(is_deleted=False)
    thread = threads.filter(pk=thread_id).first()
    if thread is None:
        raise ThreadNotFound(f"There is no thread {thread_id}.")
    return thread


def access_own_thread(actor: User, thread_id: int) -> Thread:
    """The live thread if `actor` wrote it. Someone else's thread is THREAD_NOT_FOUND, as if it
    did not exist (not 403): the answer never tells a stranger which ids are live."""
    thread = (
        Thread.objects.select_related("category", "author")
        .filter(pk=thread_id, author_id=actor.pk, is_deleted=False)
        .first()
    )
    if thread is None:
        raise ThreadNotFound(f"There is no thread {thread_id}.")
    return thread


def accepted_replies() -> Iterator[tuple[int, str]]:
    """(thread id, accepted reply id) of every live thread that has an accepted answer, by
    thread id, from the partial index idx_threads_accepted_reply (for `manage.py reconcile`).

    Deleted threads are left out: the feature service hides their replies, and a check that
    took "hidden" for "gone" would clear an answer the thread should have again when an admin
    restores it. A reply really deleted meanwhile still clears it through reply.deleted."""
    return (
        Thread.objects.filter(accepted_reply_id__isnull=False, is_deleted=False)
        .order_by("id")
        .values_list("id", "accepted_reply_id")
        .iterator()
    )


def live_threads(
    *, category: Category | None = None, author: User | None = None, search: str = ""
) -> QuerySet[Thread]:
    """Threads everyone may list (never deleted ones), with category and author joined and
    only the columns of a list item, filtered by category, author and a full-text search."""
    threads = (
        Thread.objects.filter(is_deleted=False)
        .select_related("category", "author")
        .only(*_LIST_COLUMNS)
    )
    if category is not None:
        threads = threads.filter(category_id=category.pk)
    if author is not None:
        threads = threads.filter(author_id=author.pk)
    if search:
        # `@@` against the stored vector: the GIN index idx_threads_search.
        threads = threads.filter(search_vector=search_query(search))
    return threads


def thread_page(
    threads: QuerySet[Thread], *, sort: str, limit: int, cursor: str | None
) -> Page[Thread]:
    """One keyset page of `threads`, newest or oldest first. One query."""
    return THREAD_PAGES[sort].paginate(threads, limit=limit, cursor=cursor)


def search_page(
    threads: QuerySet[Thread], *, search: str, limit: int, cursor: str | None
) -> Page[Thread]:
    """One page of `threads` (already filtered by `search`) by relevance: ts_rank over the
    weighted vector, best first, ties by id descending. The cursor holds the (rank, id) of the
    last row, signed like every cursor, so threads written between two requests neither repeat
    nor shift a page (only an edit changes a thread's rank). One query.
    """
    ranked = threads.annotate(rank=search_rank(search_query(search)))
    if cursor:
        rank, last_id = SEARCH_CURSORS.decode_cursor(cursor, _RANK_FIELD, _ID_FIELD)
        ranked = ranked.filter(Q(rank__lt=rank) | Q(rank=rank, id__lt=last_id))
    rows = list(ranked.order_by("-rank", "-id")[: limit + 1])
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last: Any = items[-1]
        # repr() gives the shortest string that reads back as the same float.
        next_cursor = SEARCH_CURSORS.encode_cursor(repr(last.rank), last.pk)
    return Page(items=items, next_cursor=next_cursor)


def primary_badges_of(users: Iterable[User]) -> dict[int, Badge]:
    """{user id: primary badge} for these users, in one query (none when there are no users);
    users without a primary badge are absent. The partial unique index
    uniq_user_badges_one_primary guarantees one row per user at most."""
    user_ids = {user.pk for user in users}
    if not user_ids:
        return {}
    holdings = UserBadge.objects.filter(user_id__in=user_ids, is_primary=True).select_related(
        "badge"
    )
    return {holding.user_id: holding.badge for holding in holdings}
