"""GET /api/v1/threads/stats: the counters a thread list shows, for up to 100 threads."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from alephdraad_contracts import UNPROCESSABLE_CONTENT, VALIDATION_FAILED
from alephdraad_feature.platform.problems import problem_responses
from alephdraad_feature.threads.schemas import (
    STATS_IDS_LIMIT,
    ThreadStatsItem,
    ThreadStatsResponse,
    parse_thread_ids,
)
from alephdraad_feature.threads.selectors import list_visible_thread_stats


@get(
    "/api/v1/threads/stats",
    operation_id="getThreadStats",
    tags=["threads"],
    summary="Counters of several threads",
    description=(
        f"Reply count, reaction counts and last reply time of up to {STATS_IDS_LIMIT} threads, "
        "read in one query. Public. Every distinct id asked for gets an entry, in the order "
        "asked: a thread with nothing counted yet, a thread core does not know, and a thread "
        "core deleted all answer zeros (no activity of a deleted thread is disclosed). The "
        "ids are not checked with core: a list already comes from core."
    ),
    response_description="One entry per distinct id",
    responses=problem_responses(VALIDATION_FAILED, UNPROCESSABLE_CONTENT),
)
async def get_thread_stats(
    ids: Annotated[
        list[str],
        Parameter(
            description=(
                f"Thread ids, 1 to {STATS_IDS_LIMIT} of them, comma-separated (`ids=1,2,3`) "
                "and/or repeated (`ids=1&ids=2`); duplicates collapsed. Absent: 400; empty, "
                "malformed or too many: 422."
            ),
        ),
    ],
) -> ThreadStatsResponse:
    # A repeated parameter is a list here; every occurrence counts (none is silently dropped).
    thread_ids = parse_thread_ids(",".join(ids))
    stored = await list_visible_thread_stats(thread_ids)
    return ThreadStatsResponse(
        threads={
            str(thread_id): ThreadStatsItem.from_stored(stored.get(thread_id))
            for thread_id in thread_ids
        }
    )


ROUTE_HANDLERS = [get_thread_stats]
