"""/api/v1/threads/{thread_id}/replies: post, page, edit and delete replies (issue 8).

Thin HTTP: parse, authorise (`access_*`), call a service, serialise. Every expected failure is
a `DomainError` rendered as problem+json; the errors each route can answer are documented with
`problem_responses`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from alephdraad_contracts import (
    MALFORMED_REQUEST,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNPROCESSABLE_CONTENT,
    UNSUPPORTED_MEDIA_TYPE,
    UPSTREAM_UNAVAILABLE,
    VALIDATION_FAILED,
)
from alephdraad_feature.auth.dependencies import (
    CurrentUser,
    provide_current_admin,
    provide_current_user,
)
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.errors import THREAD_NOT_FOUND, USER_LOCKED, USER_NOT_FOUND
from alephdraad_feature.internal.lookups import REPLY_ID_PATTERN
from alephdraad_feature.internal.references import require_live_references
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, Clock, utc_now
from alephdraad_feature.platform.db import get_mongo
from alephdraad_feature.platform.docs import USER_OR_ADMIN_TOKEN_SECURITY, USER_TOKEN_SECURITY
from alephdraad_feature.platform.pagination import (
    CURSOR_MAX_LENGTH,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
)
from alephdraad_feature.platform.problems import problem_responses
from alephdraad_feature.platform.ratelimit import RateLimit, do_enforce
from alephdraad_feature.replies.errors import (
    PARENT_NOT_IN_THREAD,
    REPLY_NOT_FOUND,
    REPLY_TOO_DEEP,
)
from alephdraad_feature.replies.schemas import (
    ReplyCreate,
    ReplyEdit,
    ReplyOut,
    ReplyPage,
    ReplySort,
)
from alephdraad_feature.replies.selectors import (
    access_own_reply,
    access_reply_as_admin,
    check_listed_parent,
    replies_page,
)
from alephdraad_feature.replies.services import (
    ReplyActor,
    check_reply_content,
    check_thread_id,
    do_create_reply,
    do_delete_reply,
    do_edit_reply,
)

# Issue 8: posting is rate-limited per user in a shared store (platform.ratelimit).
REPLIES_PER_USER = RateLimit("replies:user", 10, timedelta(minutes=1))

# Checked by `check_thread_id` (404 outside 1 … 2^63-1, like the reactions routes).
ThreadIdPath = Annotated[int, PathParameter(description="core-service thread id")]
ReplyIdPath = Annotated[
    str, PathParameter(description="rpl_ + ULID; anything else is 404 REPLY_NOT_FOUND")
]

_TAGS = ["replies"]
_PATH = "/api/v1/threads/{thread_id:int}/replies"
_ITEM_PATH = f"{_PATH}/{{reply_id:str}}"
_TOKEN_INVALID = TokenInvalid.problem_type


def _clock(request: Request[Any, Any, Any]) -> Clock:
    clock: Clock = request.app.state.get(CLOCK_STATE_KEY, utc_now)
    return clock


async def provide_reply_actor(request: Request[Any, Any, Any], state: State) -> ReplyActor:
    """A member's token (the author) or an admin's (moderation): DELETE accepts either. The
    audiences stay apart: each token is verified for its own audience only."""
    try:
        user = await provide_current_user(request, state)
    except TokenInvalid:
        try:
            admin = await provide_current_admin(request, state)
        except TokenInvalid:
            raise TokenInvalid() from None
        return ReplyActor(kind="admin", id=admin.admin_id)
    return ReplyActor(kind="user", id=user.user_id)


@post(
    _PATH,
    operation_id="createReply",
    tags=_TAGS,
    summary="Reply to a thread or to a reply",
    description=(
        "Before anything is written, one signed lookup asks core-service whether the thread "
        "exists and is not deleted (404 THREAD_NOT_FOUND) and whether the caller's account is "
        "usable (403 USER_LOCKED, 404 USER_NOT_FOUND); when core cannot answer, 503 "
        "UPSTREAM_UNAVAILABLE and nothing is written. `parent_reply_id` must be a live reply "
        "of the same thread (422 PARENT_NOT_IN_THREAD) above the deepest level: depth = parent "
        "depth + 1, at most 3 (422 REPLY_TOO_DEEP). The username shown is the author's current "
        "one. At most 10 replies per minute per user (429 RATE_LIMITED with Retry-After and "
        "RateLimit-* headers); every attempt core's lookup accepted counts, also one then "
        "refused for its parent."
    ),
    status_code=201,
    response_description="The reply as stored",
    security=USER_TOKEN_SECURITY,
    responses=problem_responses(
        VALIDATION_FAILED,
        MALFORMED_REQUEST,
        UNAUTHENTICATED,
        _TOKEN_INVALID,
        USER_LOCKED,
        THREAD_NOT_FOUND,
        USER_NOT_FOUND,
        UNPROCESSABLE_CONTENT,
        PARENT_NOT_IN_THREAD,
        REPLY_TOO_DEEP,
        UNSUPPORTED_MEDIA_TYPE,
        RATE_LIMITED,
        UPSTREAM_UNAVAILABLE,
    ),
)
async def create_reply(
    request: Request[Any, Any, Any],
    thread_id: ThreadIdPath,
    data: JSONBody[ReplyCreate],
    current_user: NamedDependency[CurrentUser],
    core_client: NamedDependency[CoreClient],
) -> ReplyOut:
    check_thread_id(thread_id)
    content = check_reply_content(data.content)
    lookup = await require_live_references(
        core_client, thread_ids=[thread_id], user_ids=[current_user.user_id]
    )
    # Core's answer (seconds old at most, dropped on user.renamed) over the token's claim,
    # which may predate a rename by up to the token's 5 minutes.
    username = lookup.user(current_user.user_id).username or current_user.username
    now = _clock(request)()
    await do_enforce(REPLIES_PER_USER, str(current_user.user_id), now)
    reply = await do_create_reply(
        get_mongo(request.app).client,
        thread_id=thread_id,
        user_id=current_user.user_id,
        username=username,
        content=content,
        parent_reply_id=data.parent_reply_id,
        now=now,
    )
    return reply.as_output()


@get(
    _PATH,
    operation_id="listReplies",
    tags=_TAGS,
    summary="One level of a thread's replies, a page at a time",
    description=(
        "The thread's top-level replies, or with `parent_reply_id` the children of one reply "
        "(404 REPLY_NOT_FOUND unless it is a reply of this thread a reader can see), in "
        "creation order (`sort=oldest`, the default) or newest first. Each item carries its "
        "depth, parent and `child_count`, so a client renders the tree and asks for a "
        "branch's children when it wants them: `limit` holds at every level. A deleted reply "
        "with visible children is a tombstone (`deleted: true`, no content, no author); "
        "without children it is left out. Public, and never asks core-service: a thread that "
        "does not exist or was deleted lists as an empty page (a number that cannot be a thread "
        "id, outside 1 to 2^63-1, is 404 THREAD_NOT_FOUND). `limit` is 1 to 100 (default "
        "20); 0 or more than 100 is 422, never clamped. A cursor that is not this list's "
        "`next_cursor` is 400."
    ),
    response_description="One page",
    responses=problem_responses(
        VALIDATION_FAILED, REPLY_NOT_FOUND, THREAD_NOT_FOUND, UNPROCESSABLE_CONTENT
    ),
)
async def list_replies(
    thread_id: ThreadIdPath,
    sort: Annotated[
        ReplySort, QueryParameter(description="oldest (default) or newest first")
    ] = "oldest",
    cursor: Annotated[
        str | None,
        QueryParameter(
            max_length=CURSOR_MAX_LENGTH,
            description="The previous page's `next_cursor`; omit for the first page.",
        ),
    ] = None,
    limit: Annotated[
        int,
        QueryParameter(ge=1, le=MAX_PAGE_SIZE, description=f"1 to {MAX_PAGE_SIZE} (default 20)"),
    ] = DEFAULT_PAGE_SIZE,
    parent_reply_id: Annotated[
        str | None,
        QueryParameter(
            pattern=REPLY_ID_PATTERN,
            description="List the children of this reply instead of the top level.",
        ),
    ] = None,
) -> ReplyPage:
    check_thread_id(thread_id)
    if parent_reply_id is not None:
        await check_listed_parent(thread_id, parent_reply_id)
    page = await replies_page(
        thread_id, parent_reply_id=parent_reply_id, sort=sort, limit=limit, cursor=cursor
    )
    return ReplyPage(
        items=[reply.as_output() for reply in page.items], next_cursor=page.next_cursor
    )


@patch(
    _ITEM_PATH,
    operation_id="editReply",
    tags=_TAGS,
    summary="Edit one's own reply",
    description=(
        "Author only: anyone else's reply, a deleted one, or one of a deleted thread is 404 "
        "REPLY_NOT_FOUND, exactly like a reply that does not exist. Sets `edited_at`. Like "
        "posting, it first asks core-service whether the thread is live and the author not "
        "locked (404 THREAD_NOT_FOUND / 403 USER_LOCKED / 503 UPSTREAM_UNAVAILABLE)."
    ),
    response_description="The reply as stored",
    security=USER_TOKEN_SECURITY,
    responses=problem_responses(
        VALIDATION_FAILED,
        MALFORMED_REQUEST,
        UNAUTHENTICATED,
        _TOKEN_INVALID,
        USER_LOCKED,
        REPLY_NOT_FOUND,
        THREAD_NOT_FOUND,
        USER_NOT_FOUND,
        UNSUPPORTED_MEDIA_TYPE,
        UNPROCESSABLE_CONTENT,
        UPSTREAM_UNAVAILABLE,
    ),
)
async def edit_reply(
    request: Request[Any, Any, Any],
    thread_id: ThreadIdPath,
    reply_id: ReplyIdPath,
    data: JSONBody[ReplyEdit],
    current_user: NamedDependency[CurrentUser],
    core_client: NamedDependency[CoreClient],
) -> ReplyOut:
    check_thread_id(thread_id)
    content = check_reply_content(data.content)
    reply = await access_own_reply(current_user.user_id, thread_id, reply_id)
    await require_live_references(
        core_client, thread_ids=[thread_id], user_ids=[current_user.user_id]
    )
    edited = await do_edit_reply(
        get_mongo(request.app).client, reply, content=content, now=_clock(request)()
    )
    return edited.as_output()


@delete(
    _ITEM_PATH,
    operation_id="deleteReply",
    tags=_TAGS,
    summary="Delete a reply (soft)",
    description=(
        "The author (member token) or an admin (admin token). Anyone else, and a reply already "
        "deleted, gets 404 REPLY_NOT_FOUND. The reply disappears from lists, or stays as a "
        "tombstone while it has visible children; its text is kept for moderation. Core-service "
        "learns of it (`reply.deleted`, through the outbox, committed with the delete) and "
        "clears an accepted answer naming it. Needs no answer from core-service."
    ),
    status_code=204,
    security=USER_OR_ADMIN_TOKEN_SECURITY,
    dependencies={"actor": Provide(provide_reply_actor)},
    responses=problem_responses(
        VALIDATION_FAILED,
        UNAUTHENTICATED,
        _TOKEN_INVALID,
        REPLY_NOT_FOUND,
        THREAD_NOT_FOUND,
        UPSTREAM_UNAVAILABLE,
    ),
)
async def delete_reply(
    request: Request[Any, Any, Any],
    thread_id: ThreadIdPath,
    reply_id: ReplyIdPath,
    actor: NamedDependency[ReplyActor],
) -> None:
    check_thread_id(thread_id)
    if actor.kind == "admin":
        reply = await access_reply_as_admin(thread_id, reply_id)
    else:
        reply = await access_own_reply(actor.id, thread_id, reply_id)
    await do_delete_reply(get_mongo(request.app).client, reply, actor=actor, now=_clock(request)())


ROUTE_HANDLERS = [create_reply, list_replies, edit_reply, delete_reply]
