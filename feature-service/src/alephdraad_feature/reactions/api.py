"""/api/v1/threads/{thread_id}/reactions: a member's reaction to a thread, and the thread's
summary (counts per type, total, the caller's own)."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from alephdraad_contracts import (
    MALFORMED_REQUEST,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    UPSTREAM_UNAVAILABLE,
    VALIDATION_FAILED,
)
from alephdraad_feature.auth.dependencies import CurrentUser
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.auth.optional import provide_optional_user
from alephdraad_feature.internal.core_client import CoreClient
from alephdraad_feature.internal.errors import THREAD_NOT_FOUND, USER_LOCKED, USER_NOT_FOUND
from alephdraad_feature.internal.references import require_live_references
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, Clock, utc_now
from alephdraad_feature.platform.db import get_mongo
from alephdraad_feature.platform.docs import OPTIONAL_USER_TOKEN_SECURITY, USER_TOKEN_SECURITY
from alephdraad_feature.platform.problems import problem_responses
from alephdraad_feature.reactions.errors import REACTION_TYPE_UNKNOWN
from alephdraad_feature.reactions.schemas import ReactionSummary, SetReactionRequest
from alephdraad_feature.reactions.selectors import get_reaction_summary
from alephdraad_feature.reactions.services import (
    ReactionConflict,
    check_reaction_type,
    check_thread_id,
    do_remove_reaction,
    do_set_reaction,
)

REACTIONS_PATH = "/api/v1/threads/{thread_id:int}/reactions"

# What every write can answer besides its own rules: who is calling, what core says about the
# thread and the caller, core being away.
_WRITE_PROBLEMS = (
    UNAUTHENTICATED,
    TokenInvalid.problem_type,
    USER_LOCKED,
    THREAD_NOT_FOUND,
    USER_NOT_FOUND,
    ReactionConflict.problem_type,
    UPSTREAM_UNAVAILABLE,
)


@get(
    REACTIONS_PATH,
    operation_id="getThreadReactions",
    tags=["reactions"],
    summary="A thread's reactions",
    description=(
        "Counts per type (every type, zeros included), their total, and `mine`: the caller's "
        "reaction, or null without a token. A token is optional; a token that is sent must be "
        "valid (401 otherwise). Read from one counters document, not counted over reactions. "
        "Core is not asked: a thread nothing is stored about answers zeros; a thread core "
        "deleted answers 404 THREAD_NOT_FOUND."
    ),
    response_description="The thread's reaction summary",
    security=OPTIONAL_USER_TOKEN_SECURITY,
    dependencies={"viewer": Provide(provide_optional_user)},
    responses=problem_responses(VALIDATION_FAILED, TokenInvalid.problem_type, THREAD_NOT_FOUND),
)
async def get_thread_reactions(
    thread_id: FromPath[int], viewer: NamedDependency[CurrentUser | None]
) -> ReactionSummary:
    check_thread_id(thread_id)
    return await get_reaction_summary(thread_id, viewer.user_id if viewer else None)


@put(
    REACTIONS_PATH,
    status_code=200,
    operation_id="putThreadReaction",
    tags=["reactions"],
    summary="Set or change my reaction",
    description=(
        "Sets the caller's reaction to the thread (one per member per thread), or changes its "
        "type. Idempotent: the same type again changes nothing. Core is asked first whether "
        "the thread exists and is not deleted and the caller is not locked; nothing is written "
        "when it says no (404 / 403) or cannot answer (503). Answers the thread's summary as "
        "committed."
    ),
    response_description="The thread's reaction summary after the change",
    security=USER_TOKEN_SECURITY,
    responses=problem_responses(
        MALFORMED_REQUEST,
        VALIDATION_FAILED,
        UNSUPPORTED_MEDIA_TYPE,
        REACTION_TYPE_UNKNOWN,
        *_WRITE_PROBLEMS,
    ),
)
async def put_thread_reaction(
    request: Request[Any, Any, Any],
    thread_id: FromPath[int],
    data: JSONBody[SetReactionRequest],
    current_user: NamedDependency[CurrentUser],
    core_client: NamedDependency[CoreClient],
) -> ReactionSummary:
    # Cheap checks first: a bad type or an impossible id costs no call to core.
    reaction_type = check_reaction_type(data.type)
    check_thread_id(thread_id)
    await require_live_references(
        core_client, thread_ids=[thread_id], user_ids=[current_user.user_id]
    )
    clock: Clock = request.app.state.get(CLOCK_STATE_KEY, utc_now)
    return await do_set_reaction(
        get_mongo(request.app).client,
        thread_id=thread_id,
        user_id=current_user.user_id,
        reaction_type=reaction_type,
        now=clock(),
    )


@delete(
    REACTIONS_PATH,
    status_code=204,
    operation_id="deleteThreadReaction",
    tags=["reactions"],
    summary="Remove my reaction",
    description=(
        "Removes the caller's reaction to the thread. 204 also when there was none (the "
        "outcome the client wants holds either way; a retried request must not fail). The "
        "same checks with core as setting one: a locked member changes nothing, a deleted "
        "thread's reactions are frozen with it."
    ),
    response_description="The caller has no reaction to the thread",
    security=USER_TOKEN_SECURITY,
    responses=problem_responses(VALIDATION_FAILED, *_WRITE_PROBLEMS),
)
async def delete_thread_reaction(
    request: Request[Any, Any, Any],
    thread_id: FromPath[int],
    current_user: NamedDependency[CurrentUser],
    core_client: NamedDependency[CoreClient],
) -> None:
    check_thread_id(thread_id)
    await require_live_references(
        core_client, thread_ids=[thread_id], user_ids=[current_user.user_id]
    )
    await do_remove_reaction(
        get_mongo(request.app).client, thread_id=thread_id, user_id=current_user.user_id
    )


ROUTE_HANDLERS = [get_thread_reactions, put_thread_reaction, delete_thread_reaction]
