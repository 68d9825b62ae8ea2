"""GET /healthz (liveness: no dependency) and GET /readyz (readiness: the database answers,
plus the event outbox's backlog as information)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_contracts import NOT_READY
from alephdraad_core import __version__
from alephdraad_core.health.schemas import LivenessSerializer, ReadinessSerializer
from alephdraad_core.health.selectors import database_is_reachable, outbox_detail
from alephdraad_core.platform.logging import SERVICE_NAME
from alephdraad_core.platform.problems import problem_response
from alephdraad_core.platform.schemas import problem_responses


class LivenessView(APIView):
    # Probes must answer even when every other policy (auth, throttles) would refuse them.
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()

    @extend_schema(
        operation_id="health_liveness",
        tags=["health"],
        summary="Liveness: the process serves HTTP",
        description="Touches no dependency, so a database outage never restarts the process.",
        responses={200: OpenApiResponse(LivenessSerializer, description="The process is up.")},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok", "service": SERVICE_NAME, "version": __version__})


class ReadinessView(APIView):
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()

    @extend_schema(
        operation_id="health_readiness",
        tags=["health"],
        summary="Readiness: the database answers",
        description=(
            "Runs `SELECT 1`; while it fails the service should get no traffic. The body also "
            "reports the event outbox's backlog (`outbox`), which never affects readiness."
        ),
        responses={
            200: OpenApiResponse(ReadinessSerializer, description="Ready for traffic."),
            **problem_responses({503: "NOT_READY: the database is unreachable."}),
        },
    )
    def get(self, request: Request) -> Response | HttpResponse:
        if not database_is_reachable():
            return problem_response(NOT_READY, "The database is unreachable.")
        # The outbox backlog is reported, never judged: it grows when the *feature* service
        # is down or refuses events, and failing readiness for that would take core out of
        # the gateway too - turning one service's outage into both services' outage, while
        # core can still serve everything and its outbox keeps every event until delivery.
        # Alerts belong on these numbers instead (oldest_pending_seconds, dead).
        return Response(
            {"status": "ready", "checks": {"database": "ok"}, "outbox": outbox_detail()}
        )
