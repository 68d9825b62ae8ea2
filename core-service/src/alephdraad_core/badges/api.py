"""Badges over HTTP: the public catalogue (anonymous), the signed-in user's primary badge (user
token), and the admin catalogue and awards under /admin/ (admin token)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.admins.api import AdminAPIView
from alephdraad_core.admins.selectors import access_user
from alephdraad_core.badges import services
from alephdraad_core.badges.schemas import (
    BadgeAwardSerializer,
    BadgeCreateSerializer,
    BadgeListSerializer,
    BadgeRevokeSerializer,
    BadgeSerializer,
    BadgeUpdateSerializer,
    PrimaryBadgeResultSerializer,
    PrimaryBadgeSerializer,
    UserBadgeSerializer,
)
from alephdraad_core.badges.selectors import access_badge, badges_with_holder_counts
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.serializers import validated
from alephdraad_core.platform.views import AnonymousAPIView

_BAD_INPUT = {400: "MALFORMED_REQUEST (not JSON) or VALIDATION_FAILED (field errors in errors[])."}
_UNAUTHENTICATED = {
    401: "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED "
    "(token refused or its session ended)."
}
_ADMIN_UNAUTHORISED = {
    401: "AUTH_TOKEN_INVALID / UNAUTHENTICATED: no admin token, or not a valid one (a user "
    "token is not)."
}
_BADGE_NOT_FOUND = {404: "BADGE_NOT_FOUND"}
_BADGE_ID = OpenApiParameter("badge_id", int, OpenApiParameter.PATH, description="The badge's id.")
_USER_ID = OpenApiParameter("user_id", int, OpenApiParameter.PATH, description="The user's id.")


class BadgeListView(AnonymousAPIView):
    @extend_schema(
        operation_id="badges_list",
        tags=["badges"],
        summary="Every badge with its number of holders",
        description="The whole catalogue (it is small and curated), oldest first; anonymous.",
        responses={200: OpenApiResponse(BadgeListSerializer, description="The catalogue.")},
    )
    def get(self, request: Request) -> Response:
        return Response({"items": BadgeSerializer(badges_with_holder_counts(), many=True).data})


class BadgeDetailView(AnonymousAPIView):
    @extend_schema(
        operation_id="badges_retrieve",
        tags=["badges"],
        summary="A badge with its number of holders",
        parameters=[_BADGE_ID],
        responses={
            200: OpenApiResponse(BadgeSerializer, description="The badge."),
            **problem_responses(_BADGE_NOT_FOUND),
        },
    )
    def get(self, request: Request, badge_id: int) -> Response:
        return Response(BadgeSerializer(access_badge(badge_id)).data)


class PrimaryBadgeView(APIView):
    @extend_schema(
        operation_id="account_primary_badge_set",
        tags=["account"],
        summary="Choose the badge shown next to your name, or none",
        description="`badge_id` must be a badge you hold (else 422 BADGE_NOT_HELD); null "
        "clears the choice. The previous primary badge stops being primary.",
        request=PrimaryBadgeSerializer,
        responses={
            200: OpenApiResponse(PrimaryBadgeResultSerializer, description="The choice."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_UNAUTHENTICATED,
                    422: "BADGE_NOT_HELD (you do not hold that badge) or UNPROCESSABLE_CONTENT.",
                }
            ),
        },
    )
    def put(self, request: Request) -> Response:
        data = validated(PrimaryBadgeSerializer, request.data)
        badge = services.do_set_primary_badge(request.user, badge_id=data["badge_id"])
        return Response(PrimaryBadgeResultSerializer({"primary_badge": badge}).data)


# Admin


class AdminBadgeListView(AdminAPIView):
    @extend_schema(
        operation_id="admin_badges_list",
        tags=["admin"],
        summary="Every badge with its number of holders",
        responses={
            200: OpenApiResponse(BadgeListSerializer, description="The catalogue."),
            **problem_responses(_ADMIN_UNAUTHORISED),
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"items": BadgeSerializer(badges_with_holder_counts(), many=True).data})

    @extend_schema(
        operation_id="admin_badges_create",
        tags=["admin"],
        summary="Add a badge to the catalogue",
        request=BadgeCreateSerializer,
        responses={
            201: OpenApiResponse(BadgeSerializer, description="The new badge."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_ADMIN_UNAUTHORISED,
                    409: "BADGE_NAME_TAKEN: another badge has this name.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(BadgeCreateSerializer, request.data)
        badge = services.do_create_badge(self.actor(request), data, request=request)
        return Response(BadgeSerializer(badge).data, status=201)


class AdminBadgeDetailView(AdminAPIView):
    @extend_schema(
        operation_id="admin_badges_update",
        tags=["admin"],
        summary="Change some of a badge's fields",
        description="Absent fields keep their value; `{}` changes nothing.",
        parameters=[_BADGE_ID],
        request=BadgeUpdateSerializer,
        responses={
            200: OpenApiResponse(BadgeSerializer, description="The badge."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_ADMIN_UNAUTHORISED,
                    **_BADGE_NOT_FOUND,
                    409: "BADGE_NAME_TAKEN: another badge has this name.",
                }
            ),
        },
    )
    def patch(self, request: Request, badge_id: int) -> Response:
        data = validated(BadgeUpdateSerializer, request.data)
        badge = access_badge(badge_id)
        badge = services.do_update_badge(self.actor(request), badge, data, request=request)
        return Response(BadgeSerializer(badge).data)

    @extend_schema(
        operation_id="admin_badges_delete",
        tags=["admin"],
        summary="Remove a badge that nobody holds",
        description="A badge someone holds is refused with 409 BADGE_HELD: revoke it from "
        "each holder first (each revocation is recorded with its reason).",
        parameters=[_BADGE_ID],
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted."),
            **problem_responses(
                {
                    **_ADMIN_UNAUTHORISED,
                    **_BADGE_NOT_FOUND,
                    409: "BADGE_HELD: users still hold it (`holder_count` says how many).",
                }
            ),
        },
    )
    def delete(self, request: Request, badge_id: int) -> Response:
        badge = access_badge(badge_id)
        services.do_delete_badge(self.actor(request), badge, request=request)
        return Response(status=204)


class AdminUserBadgeListView(AdminAPIView):
    @extend_schema(
        operation_id="admin_user_badges_award",
        tags=["admin"],
        summary="Award a badge to a user",
        parameters=[_USER_ID],
        request=BadgeAwardSerializer,
        responses={
            201: OpenApiResponse(UserBadgeSerializer, description="The award."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_ADMIN_UNAUTHORISED,
                    404: "USER_NOT_FOUND",
                    409: "BADGE_ALREADY_AWARDED: the user holds this badge already.",
                    422: "UNKNOWN_BADGE (no badge `badge_id`) or UNPROCESSABLE_CONTENT.",
                }
            ),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        actor = self.actor(request)
        data = validated(BadgeAwardSerializer, request.data)
        user = access_user(actor, user_id)
        held = services.do_award_badge(
            actor, user, badge_id=data["badge_id"], reason=data["reason"], request=request
        )
        return Response(UserBadgeSerializer(held).data, status=201)


class AdminUserBadgeDetailView(AdminAPIView):
    @extend_schema(
        operation_id="admin_user_badges_revoke",
        tags=["admin"],
        summary="Take a badge away from a user",
        description="The body `{reason}` is required and kept in the audit log. If it was the "
        "user's primary badge, they have none afterwards.",
        parameters=[_USER_ID, _BADGE_ID],
        request=BadgeRevokeSerializer,
        responses={
            204: OpenApiResponse(description="Revoked."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_ADMIN_UNAUTHORISED,
                    404: "USER_NOT_FOUND, or USER_BADGE_NOT_FOUND (the user does not hold it).",
                }
            ),
        },
    )
    def delete(self, request: Request, user_id: int, badge_id: int) -> Response:
        actor = self.actor(request)
        data = validated(BadgeRevokeSerializer, request.data)
        user = access_user(actor, user_id)
        services.do_revoke_badge(
            actor, user, badge_id=badge_id, reason=data["reason"], request=request
        )
        return Response(status=204)
