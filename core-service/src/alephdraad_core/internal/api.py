"""Routes of the signed internal listener. Never in the public OpenAPI document."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.admins.events import iso_z
from alephdraad_core.admins.services import do_lock_user
from alephdraad_core.content.services import do_delete_thread
from alephdraad_core.internal import selectors
from alephdraad_core.internal.authentication import (
    IsService,
    SignedServiceAuthentication,
)
from alephdraad_core.internal.schemas import (
    LookupRequestSerializer,
    ThreadDeleteCommandSerializer,
    UserLockCommandSerializer,
)
from alephdraad_core.outbox.services import check_event_envelope, do_handle_event
from alephdraad_core.platform.serializers import validated


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


class EventsView(InternalAPIView):
    """POST /internal/v1/events: one event of another service's outbox (DESIGN section 7).

    200 `{"status": "handled"}` the first time an id arrives, `{"status": "duplicate"}` for a
    redelivery (both tell the sender's dispatcher to stop resending). A body that is not an
    envelope is 400 and bad `data` 422: the sender marks those dead instead of retrying."""

    def post(self, request: Request) -> Response:
        envelope = check_event_envelope(request.data, caller=request.user.name)
        return Response({"status": do_handle_event(envelope)})


# --- moderation commands (issue 7) --------------------------------------------------------------
# The feature service's moderation desk acts on core's rows through these, for an admin or an
# automated moderator (`actor`). Same effects as the admin API, recorded with `via` = the
# signed caller, so the audit log tells a desk action from one taken in core's admin API.


class ThreadDeleteCommandView(InternalAPIView):
    """POST /internal/v1/threads/{id}/delete `{reason, actor}`: soft-delete like an admin.

    200 `{thread_id, deleted: true, changed}`; a thread already deleted answers the same with
    `changed: false` and publishes nothing, so the caller may retry freely."""

    def post(self, request: Request, thread_id: int) -> Response:
        body = validated(ThreadDeleteCommandSerializer, request.data)
        actor = selectors.resolve_actor(body["actor"]["kind"], body["actor"]["id"])
        thread = selectors.access_thread_for_moderation(thread_id)
        changed = do_delete_thread(
            actor, thread, request=request, reason=body["reason"], via=request.user.name
        )
        return Response({"thread_id": thread.pk, "deleted": True, "changed": changed})


class UserLockCommandView(InternalAPIView):
    """POST /internal/v1/users/{id}/lock `{reason, until, actor}`: lock like an admin (all
    sessions revoked). 200 `{user_id, locked: true, until, revoked_sessions}`."""

    def post(self, request: Request, user_id: int) -> Response:
        body = validated(UserLockCommandSerializer, request.data)
        actor = selectors.resolve_actor(body["actor"]["kind"], body["actor"]["id"])
        user = selectors.access_user_for_moderation(user_id)
        locked = do_lock_user(
            actor,
            user,
            reason=body["reason"],
            until=body["until"],
            request=request,
            via=request.user.name,
        )
        return Response(
            {
                "user_id": user.pk,
                "locked": True,
                "until": iso_z(body["until"]),
                "revoked_sessions": locked.revoked_sessions,
            }
        )
