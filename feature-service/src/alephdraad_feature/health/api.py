"""GET /healthz (liveness) and GET /readyz (readiness), on the service's own port."""

from __future__ import annotations

from litestar import Request, get

from alephdraad_contracts import NOT_READY
from alephdraad_feature import __version__
from alephdraad_feature.health.errors import ServiceNotReady
from alephdraad_feature.health.schemas import Liveness, Readiness
from alephdraad_feature.platform.db import get_mongo
from alephdraad_feature.platform.problems import problem_responses
from alephdraad_feature.settings import SERVICE_NAME

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
        "bound; otherwise 503 NOT_READY with `checks` naming what failed."
    ),
    response_description="Every dependency answered",
    responses=problem_responses(NOT_READY),
)
async def readyz(request: Request) -> Readiness:
    mongodb = await get_mongo(request.app).readiness()
    if mongodb != "ok":
        raise ServiceNotReady(
            f"MongoDB is {mongodb}.",
            headers={"Retry-After": _RETRY_AFTER_SECONDS},
            extensions={"checks": {"mongodb": mongodb}},
        )
    return Readiness(checks={"mongodb": "ok"})


ROUTE_HANDLERS = [healthz, readyz]
