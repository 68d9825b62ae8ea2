"""State changes of categories (admins) and threads (authors; admins delete, restore, move).

Every admin action writes its security event inside the action's own transaction, so the change
and its audit record commit together or not at all (as in admins/services.py); deleting,
restoring and moving a thread also publish their event (content/events.py) in that transaction.
Thread writes store the search vector in the same statement as the text it is built from.

A thread's accepted answer names a feature-service reply: it is verified there before it is
stored (DESIGN section 5) and forgotten when the feature service says the reply is gone
(content/consumers.py, internal/reconcile.py). It is the author's own choice, like an edit, so
it records no security event (only admin actions do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.admins.services import Moderator, moderation_audit
from alephdraad_core.authn.errors import EmailUnverified
from alephdraad_core.content.document import check_content_document, derived_summary
from alephdraad_core.content.errors import (
    CategoryHasThreads,
    CategoryNotFound,
    CategorySlugTaken,
    ReplyNotInThread,
    ThreadNotFound,
    UnknownAuthor,
    UnknownCategory,
)
from alephdraad_core.content.events import (
    emit_thread_deleted,
    emit_thread_moved,
    emit_thread_restored,
)
from alephdraad_core.content.models import Category, Thread
from alephdraad_core.content.search import search_vector_of
from alephdraad_core.content.selectors import access_thread, category_named_by
from alephdraad_core.internal.peers import fetch_reply_states
from alephdraad_core.security.services import record_security_event

# New categories go after the last one unless an order_index is given (the defaults use steps
# of 10, leaving room to slot one in between).
ORDER_INDEX_STEP = 10

# --- categories ------------------------------------------------------------------------------


def do_create_category(
    actor: Admin,
    *,
    request: HttpRequest,
    name: str,
    slug: str,
    description: str = "",
    color: str = "",
    icon: str = "",
    order_index: int | None = None,
) -> Category:
    """Create a category and record "admin_category_created", in one transaction. The unique
    index on slug settles a race between two creations; the pre-check gives the usual case a
    clear answer without a failed INSERT."""
    if Category.objects.filter(slug=slug).exists():
        raise CategorySlugTaken(slug)
    if order_index is None:
        last = Category.objects.aggregate(last=Max("order_index"))["last"]
        order_index = 0 if last is None else last + ORDER_INDEX_STEP
    category = Category(
        name=name,
        slug=slug,
        description=description,
        color=color,
        icon=icon,
        order_index=order_index,
    )
    try:
        with transaction.atomic():
            category.save()
            record_security_event(
                "admin_category_created",
                request=request,
                admin_id=actor.pk,
                details={"category_id": category.pk, "slug": slug},
            )
    except IntegrityError:
        raise CategorySlugTaken(slug) from None
    return category


def do_update_category(
    actor: Admin, category: Category, *, request: HttpRequest, changes: Mapping[str, Any]
) -> Category:
    """Apply `changes` (any of name, slug, description, color, icon, order_index) and record
    "admin_category_updated" with the old and new values, in one transaction (an UPDATE of the
    category row). Threads refer to the category by id, so a new slug moves nothing."""
    changed = {name: value for name, value in changes.items() if getattr(category, name) != value}
    if not changed:
        return category
    new_slug = changed.get("slug")
    if new_slug is not None and Category.objects.filter(slug=new_slug).exists():
        raise CategorySlugTaken(new_slug)
    try:
        with transaction.atomic():
            if not Category.objects.filter(pk=category.pk).update(**changed):
                raise CategoryNotFound(f"There is no category {category.slug!r}.")
            record_security_event(
                "admin_category_updated",
                request=request,
                admin_id=actor.pk,
                details={
                    "category_id": category.pk,
                    "slug": category.slug,
                    "changes": {
                        name: {"from": getattr(category, name), "to": value}
                        for name, value in changed.items()
                    },
                },
            )
    except IntegrityError:
        raise CategorySlugTaken(str(new_slug)) from None
    for name, value in changed.items():
        setattr(category, name, value)
    return category


def do_delete_category(actor: Admin, category: Category, *, request: HttpRequest) -> None:
    """Delete a category no thread uses (deleted threads count: an admin may restore them), and
    record "admin_category_deleted"; else CATEGORY_HAS_THREADS (move the threads first).

    One transaction holding the category row FOR UPDATE while it checks and deletes. A thread
    being created in it concurrently share-locks the row for its foreign key, so either that
    insert commits first and the check sees it, or it waits and then fails as
    UNKNOWN_CATEGORY. The foreign key is deferred: its violation, if any, comes at COMMIT,
    hence the IntegrityError handler around the whole block.
    """
    has_threads = CategoryHasThreads(
        f"Threads still belong to {category.slug!r}; move them to another category first."
    )
    try:
        with transaction.atomic():
            locked = Category.objects.select_for_update().filter(pk=category.pk).first()
            if locked is None:
                raise CategoryNotFound(f"There is no category {category.slug!r}.")
            if Thread.objects.filter(category_id=category.pk).exists():
                raise has_threads
            locked.delete()
            record_security_event(
                "admin_category_deleted",
                request=request,
                admin_id=actor.pk,
                details={"category_id": category.pk, "slug": category.slug},
            )
    except (IntegrityError, ProtectedError):
        raise has_threads from None


# --- threads ---------------------------------------------------------------------------------


def check_may_post(author: User) -> None:
    """Only verified members write. (Unverified accounts cannot sign in, so a user token
    already implies it; this keeps the rule true for any future way in.)"""
    if not author.is_verified:
        raise EmailUnverified("Confirm your email address before you post.")


def do_create_thread(
    author: User,
    *,
    category_slug: str,
    title: str,
    summary: str,
    content_json: dict[str, Any],
) -> Thread:
    """Create a thread: the document checked (CONTENT_INVALID), its plain text derived, the
    summary derived from it when empty, and the search vector computed, in one INSERT.

    The category is resolved first (UNKNOWN_CATEGORY); the foreign key share-locks its row at
    commit, so a category deleted meanwhile makes the INSERT fail, answered the same way.
    """
    check_may_post(author)
    content_text = check_content_document(content_json)
    category = category_named_by(category_slug, field="category_slug")
    summary = summary or derived_summary(content_text)
    try:
        with transaction.atomic():
            thread = Thread.objects.create(
                title=title,
                summary=summary,
                content_json=content_json,
                content_text=content_text,
                category=category,
                author=author,
                search_vector=search_vector_of(
                    title=title, summary=summary, content_text=content_text
                ),
            )
    except IntegrityError:
        raise UnknownCategory("category_slug", category_slug) from None
    thread.search_vector = None  # the expression was for the INSERT; never read back
    return thread


_UNSET: Any = object()


def do_update_thread(
    author: User,
    thread: Thread,
    *,
    title: str = _UNSET,
    summary: str = _UNSET,
    content_json: dict[str, Any] = _UNSET,
) -> Thread:
    """Edit the author's live thread: any of title, summary, content_json.

    A summary that was derived from the text (the author gave none) follows the new text; an
    empty summary asks for a derived one again. One transaction holding the thread row
    FOR UPDATE, so concurrent edits apply one after another, each on the text the previous
    one left; the UPDATE writes the new search vector with the text. updated_at moves.
    """
    if title is _UNSET and summary is _UNSET and content_json is _UNSET:
        return thread
    new_text = check_content_document(content_json) if content_json is not _UNSET else None
    with transaction.atomic():
        current = (
            Thread.objects.select_for_update()
            .filter(pk=thread.pk, author_id=author.pk, is_deleted=False)
            .only("title", "summary", "content_text")
            .first()
        )
        if current is None:
            raise ThreadNotFound(f"There is no thread {thread.pk}.")
        content_text = current.content_text if new_text is None else new_text
        if summary is not _UNSET:
            summary = summary or derived_summary(content_text)
        elif new_text is not None and current.summary == derived_summary(current.content_text):
            summary = derived_summary(content_text)
        else:
            summary = current.summary
        title = current.title if title is _UNSET else title
        fields: dict[str, Any] = {
            "title": title,
            "summary": summary,
            "content_text": content_text,
            "updated_at": timezone.now(),
        }
        if content_json is not _UNSET:
            fields["content_json"] = content_json
        Thread.objects.filter(pk=thread.pk).update(
            **fields,
            search_vector=search_vector_of(title=title, summary=summary, content_text=content_text),
        )
    for name, value in fields.items():
        setattr(thread, name, value)
    return thread


def do_delete_thread(
    actor: User | Moderator,
    thread: Thread,
    *,
    request: HttpRequest,
    reason: str = "",
    via: str | None = None,
) -> bool:
    """Soft-delete (is_deleted, deleted_at) by its author, or by a moderator: an admin, or a
    service acting for one through a signed moderation command (`via` names that service).
    Returns whether this call deleted it.

    One transaction: the live row FOR UPDATE, its UPDATE, the thread.deleted event (with the
    moderator's `reason`) and, for a moderator, "admin_thread_deleted"; nothing when the row
    was not live. A
    moderator deleting a deleted thread changes nothing, publishes nothing and succeeds; an
    author racing another delete gets THREAD_NOT_FOUND, as they would a moment later."""
    live = Thread.objects.filter(pk=thread.pk, is_deleted=False)
    moderated = not isinstance(actor, User)
    if not moderated:
        live = live.filter(author_id=actor.pk)
    with transaction.atomic():
        # FOR UPDATE: of two concurrent deletes the second waits, then no longer matches
        # is_deleted=False, so exactly one publishes; the author is read under the same lock.
        current = live.select_for_update().values("author_id").first()
        if current is None:
            if moderated:
                return False
            raise ThreadNotFound(f"There is no thread {thread.pk}.")
        Thread.objects.filter(pk=thread.pk).update(is_deleted=True, deleted_at=timezone.now())
        author_id = current["author_id"]
        emit_thread_deleted(thread.pk, author_id=author_id, actor=actor, reason=reason)
        if not isinstance(actor, User):
            admin_id, audit = moderation_audit(actor, via)
            record_security_event(
                "admin_thread_deleted",
                request=request,
                admin_id=admin_id,
                user_id=author_id,
                details={
                    "thread_id": thread.pk,
                    **({"reason": reason} if reason else {}),
                    **audit,
                },
            )
    return True


def do_restore_thread(actor: Admin, thread: Thread, *, request: HttpRequest) -> Thread:
    """Undo a soft delete; record "admin_thread_restored" and publish thread.restored (one
    transaction). Restoring a live thread changes nothing, records and publishes nothing."""
    with transaction.atomic():
        current = (
            Thread.objects.select_for_update()
            .filter(pk=thread.pk, is_deleted=True)
            .values("author_id")
            .first()
        )
        if current is not None:
            Thread.objects.filter(pk=thread.pk).update(is_deleted=False, deleted_at=None)
            emit_thread_restored(thread.pk, author_id=current["author_id"], actor=actor)
            record_security_event(
                "admin_thread_restored",
                request=request,
                admin_id=actor.pk,
                user_id=current["author_id"],
                details={"thread_id": thread.pk},
            )
    return access_thread(actor, thread.pk)


def do_move_thread(
    actor: Admin,
    thread: Thread,
    *,
    category_slug: str | None,
    author_id: int | None,
    reason: str,
    request: HttpRequest,
) -> Thread:
    """Move a thread (deleted or not) to another category and/or hand it to another author,
    recording "admin_thread_moved" with the reason and what changed. The target category and
    author are resolved first (UNKNOWN_CATEGORY / UNKNOWN_AUTHOR); then one transaction
    holds the thread row FOR UPDATE while it reads the current values and updates them.
    updated_at is left alone: it dates the author's edits."""
    category = (
        category_named_by(category_slug, field="category_slug")
        if category_slug is not None
        else None
    )
    # A deleted account's tombstone cannot receive threads: it has no owner left.
    if (
        author_id is not None
        and not User.objects.filter(pk=author_id, deleted_at__isnull=True).exists()
    ):
        raise UnknownAuthor("author_id", "No user has this id.")
    try:
        with transaction.atomic():
            current = (
                Thread.objects.select_for_update()
                .filter(pk=thread.pk)
                .values("category_id", "author_id")
                .first()
            )
            if current is None:
                raise ThreadNotFound(f"There is no thread {thread.pk}.")
            changes: dict[str, Any] = {}
            if category is not None:
                changes["category_id"] = category.pk
            if author_id is not None:
                changes["author_id"] = author_id
            Thread.objects.filter(pk=thread.pk).update(**changes)
            to_category_id = changes.get("category_id", current["category_id"])
            to_author_id = changes.get("author_id", current["author_id"])
            if (to_category_id, to_author_id) != (current["category_id"], current["author_id"]):
                # Only a real move is news to the feature service; the audit log keeps every
                # request, even one that named the current category and author.
                emit_thread_moved(
                    thread.pk,
                    from_category_id=current["category_id"],
                    to_category_id=to_category_id,
                    from_author_id=current["author_id"],
                    to_author_id=to_author_id,
                    actor=actor,
                )
            record_security_event(
                "admin_thread_moved",
                request=request,
                admin_id=actor.pk,
                user_id=current["author_id"],
                details={
                    "thread_id": thread.pk,
                    "reason": reason,
                    **{
                        name: {"from": current[name], "to": value}
                        for name, value in changes.items()
                    },
                },
            )
    except IntegrityError:
        # A target deleted between its check and our COMMIT (deferred foreign keys).
        if category is not None and not Category.objects.filter(pk=category.pk).exists():
            raise UnknownCategory("category_slug", str(category_slug)) from None
        raise UnknownAuthor("author_id", "No user has this id.") from None
    return access_thread(actor, thread.pk)


# --- accepted answers ------------------------------------------------------------------------


def check_reply_in_thread(thread: Thread, reply_id: str) -> None:
    """Ask the feature service whether `reply_id` is a live reply of `thread`: REPLY_NOT_IN_THREAD
    unless it exists, is not deleted and hangs on this thread. An unreachable or confused feature
    service raises UpstreamUnavailable (503): an id nobody vouched for is never stored."""
    state = fetch_reply_states([reply_id])[reply_id]
    if not state.exists or state.deleted or state.thread_id != thread.pk:
        raise ReplyNotInThread(thread.pk)


def do_accept_reply(author: User, thread: Thread, *, reply_id: str) -> Thread:
    """Mark `reply_id` as the answer of the author's live thread (replacing any other).

    The feature service is asked first, outside any transaction (no row lock is held while
    another service answers). Then one transaction holds the row FOR UPDATE, still the
    author's and still live (else THREAD_NOT_FOUND: deleted or handed to someone else
    meanwhile), and writes it. Accepting the reply already accepted keeps its accepted_at, so
    a retried PUT changes nothing. updated_at is left alone: it dates edits of the text.

    A reply deleted after the lookup is cleared by its reply.deleted event, which the feature
    service publishes after that deletion and core handles after this write. Only an event
    handled in the milliseconds between the lookup's answer and this commit would find nothing
    to clear (its conditional UPDATE does not wait for this uncommitted row); `manage.py
    reconcile` finds and clears such a leftover, as it does one a lost event would leave."""
    check_reply_in_thread(thread, reply_id)
    with transaction.atomic():
        current = (
            Thread.objects.select_for_update()
            .filter(pk=thread.pk, author_id=author.pk, is_deleted=False)
            .values("accepted_reply_id", "accepted_at")
            .first()
        )
        if current is None:
            raise ThreadNotFound(f"There is no thread {thread.pk}.")
        if current["accepted_reply_id"] == reply_id:
            accepted_at = current["accepted_at"]
        else:
            accepted_at = timezone.now()
            Thread.objects.filter(pk=thread.pk).update(
                accepted_reply_id=reply_id, accepted_at=accepted_at
            )
    thread.accepted_reply_id = reply_id
    thread.accepted_at = accepted_at
    return thread


def do_clear_accepted_reply(author: User, thread: Thread) -> None:
    """Take the accepted answer off the author's live thread; one conditional UPDATE, so a
    thread deleted or handed over meanwhile is THREAD_NOT_FOUND and left as it is. Clearing a
    thread without one succeeds (idempotent)."""
    cleared = Thread.objects.filter(pk=thread.pk, author_id=author.pk, is_deleted=False).update(
        accepted_reply_id=None, accepted_at=None
    )
    if not cleared:
        raise ThreadNotFound(f"There is no thread {thread.pk}.")


def do_forget_accepted_reply(thread_id: int, reply_id: str) -> bool:
    """The feature service says `reply_id` is gone (reply.deleted, or reconcile): clear it
    where it is `thread_id`'s accepted answer, deleted thread or not. One conditional UPDATE
    that matches nothing when the author has accepted another reply meanwhile or it is
    cleared already, so running it again is harmless. Returns whether it cleared one."""
    return bool(
        Thread.objects.filter(pk=thread_id, accepted_reply_id=reply_id).update(
            accepted_reply_id=None, accepted_at=None
        )
    )
