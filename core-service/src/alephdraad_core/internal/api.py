"""Routes of the signed internal listener. Never in the public OpenAPI document."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.internal import selectors
from alephdraad_core.internal.authentication import (
    IsService,
    SignedServiceAuthentication,
)
from alephdraad_core.internal.schemas import LookupRequestSerializer


@extend_schema(exclude=True)
class InternalAPIView(APIView):
    """Base of every internal route: signed service calls only, no user or admin tokens."""

    authentication_classes = (SignedServiceAuthentication,)
    permission_classes = (IsService,)
    throttle_classes = ()

    def now(self) -> Any:
        return SignedServiceAuthentication.clock()


class LookupView(InternalAPIView):
    def post(self, request: Request) -> Response:
        serializer = LookupRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(
            selectors.lookup(
                user_ids=data.get("user_ids", ()),
                usernames=data.get("usernames", ()),
                thread_ids=data.get("thread_ids", ()),
                now=self.now(),
            )
        )


class SessionStateView(InternalAPIView):
    def get(self, request: Request, sid: str) -> Response:
        return Response(selectors.session_state(sid, now=self.now()))


class DeviceHashesView(InternalAPIView):
    def get(self, request: Request, user_id: int) -> Response:
        return Response({"hashes": selectors.device_hashes(user_id, now=self.now())})
