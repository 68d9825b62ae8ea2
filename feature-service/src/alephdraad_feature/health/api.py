"""GET /healthz (liveness) and GET /readyz (readiness), on the service's own port."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, get
from pymongo.errors import PyMongoError

from alephdraad_contracts import NOT_READY
from alephdraad_feature import __version__
from alephdraad_feature.health.errors import ServiceNotReady
from alephdraad_feature.health.schemas import Liveness, OutboxBacklog, Readiness
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, Clock, utc_now
from alephdraad_feature.outbox.selectors import outbox_backlog
from alephdraad_feature.platform.db import READINESS_PING_CAP_SECONDS, get_mongo
from alephdraad_feature.platform.problems import problem_responses
from alephdraad_feature.settings import SERVICE_NAME

logger = logging.getLogger("alephdraad_feature.health")

# Seconds a prober should wait before asking again; also tells the gateway not to hammer us.
_RETRY_AFTER_SECONDS = "5"


@get(
    "/healthz",
    operation_id="getHealthz",
    tags=["health"],
    summary="Liveness",
    description="Answers as long as the process serves HTTP. Checks no dependency.",
    response_description="The process is alive",
    sync_to_thread=False,
)
def healthz() -> Liveness:
    return Liveness(service=SERVICE_NAME, version=__version__)


@get(
    "/readyz",
    operation_id="getReadyz",
    tags=["health"],
    summary="Readiness",
    description=(
        "200 when MongoDB answers a ping (within at most 2 s) and the document models are "
        "bound; otherwise 503 NOT_READY with `checks` naming what failed. `outbox` reports "
        "the backlog of events waiting for core-service; it never makes the answer fail."
    ),
    response_description="Every dependency answered",
    responses=problem_responses(NOT_READY),
)
async def readyz(request: Request[Any, Any, Any]) -> Readiness:
    mongodb = await get_mongo(request.app).readiness()
    if mongodb != "ok":
        raise ServiceNotReady(
            f"MongoDB is {mongodb}.",
            headers={"Retry-After": _RETRY_AFTER_SECONDS},
            extensions={"checks": {"mongodb": mongodb}},
        )
    clock: Clock = request.app.state.get(CLOCK_STATE_KEY, utc_now)
    return Readiness(checks={"mongodb": "ok"}, outbox=await _outbox_detail(clock))


async def _outbox_detail(clock: Clock) -> OutboxBacklog | None:
    try:
        # Three indexed reads; bounded like the ping so a probe never hangs on them.
        async with asyncio.timeout(READINESS_PING_CAP_SECONDS):
            backlog = await outbox_backlog(clock())
    except (PyMongoError, TimeoutError) as exc:
        logger.warning("outbox backlog unreadable", extra={"error": type(exc).__name__})
        return None
    return OutboxBacklog(**backlog.as_dict())


ROUTE_HANDLERS = [healthz, readyz]
