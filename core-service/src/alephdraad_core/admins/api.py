"""The admin API under /api/v1/admin/: login, users (search, detail, lock, sessions) and the
security audit log. Only admin tokens get in (DESIGN section 4)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.admins.models import Admin
from alephdraad_core.admins.schemas import (
    AdminLoginSerializer,
    AdminTokenSerializer,
    AdminUserDetailSerializer,
    AdminUserListQuerySerializer,
    AdminUserLockSerializer,
    AdminUserPageSerializer,
    AdminUserSerializer,
    AdminUserSessionSerializer,
    EmptyBodySerializer,
    SessionsRevokedSerializer,
)
from alephdraad_core.admins.selectors import (
    USER_PAGES,
    access_user,
    live_sessions_of,
    users_visible_to,
)
from alephdraad_core.admins.services import (
    do_admin_login,
    do_lock_user,
    do_revoke_sessions_of_user,
    do_unlock_user,
)
from alephdraad_core.authn.authentication import AdminTokenAuthentication
from alephdraad_core.authn.permissions import IsAdmin
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.security.limits import ADMIN_LOGIN_PER_IP
from alephdraad_core.security.schemas import (
    SecurityEventPageSerializer,
    SecurityEventQuerySerializer,
    SecurityEventSerializer,
)
from alephdraad_core.security.selectors import SECURITY_EVENT_PAGES, security_events_visible_to
from alephdraad_core.security.services import enforce_per_ip

TAGS = ["admin"]
_UNAUTHORISED = {
    401: "AUTH_TOKEN_INVALID / UNAUTHENTICATED: no admin token, or not a valid one (a user "
    "token is not)."
}
_BAD_INPUT = {400: "VALIDATION_FAILED or MALFORMED_REQUEST: see errors[]."}
_USER_ID = OpenApiParameter("user_id", int, OpenApiParameter.PATH, description="The user's id.")


class AdminAPIView(APIView):
    """Base of every admin view: an admin token (audience alephdraad:admin) and nothing else."""

    authentication_classes = (AdminTokenAuthentication,)
    permission_classes = (IsAdmin,)

    def actor(self, request: Request) -> Admin:
        admin = request.user
        assert isinstance(admin, Admin)  # IsAdmin let the request in
        return admin


class AdminLoginView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        operation_id="admin_login",
        tags=TAGS,
        summary="Log an admin in: an admin access token (10 minutes)",
        description="5 attempts per 15 minutes per client IP, counted before the password is "
        "checked. Unknown email, wrong password and inactive account answer the same 401.",
        request=AdminLoginSerializer,
        responses={
            200: OpenApiResponse(AdminTokenSerializer, description="Logged in."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    401: "ADMIN_INVALID_CREDENTIALS",
                    429: "RATE_LIMITED: too many attempts from this IP; see Retry-After.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(ADMIN_LOGIN_PER_IP, request)
        body = AdminLoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        login = do_admin_login(
            email=body.validated_data["email"],
            password=body.validated_data["password"],
            request=request,
        )
        response = Response(
            AdminTokenSerializer(
                {
                    "access_token": login.token.token,
                    "token_type": "Bearer",
                    "expires_in": login.token.expires_in,
                    "admin": login.admin,
                }
            ).data
        )
        response["Cache-Control"] = "no-store"
        return response


class AdminUserListView(AdminAPIView):
    @extend_schema(
        operation_id="admin_users_list",
        tags=TAGS,
        summary="Search users by email or username prefix, newest first",
        parameters=[AdminUserListQuerySerializer],
        responses={
            200: OpenApiResponse(AdminUserPageSerializer, description="One page of users."),
            **problem_responses({**_BAD_INPUT, **_UNAUTHORISED}),
        },
    )
    def get(self, request: Request) -> Response:
        query = AdminUserListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = USER_PAGES.paginate(
            users_visible_to(self.actor(request), search=query.validated_data.get("q", "")),
            limit=query.validated_data["limit"],
            cursor=query.validated_data.get("cursor"),
        )
        return Response(
            {
                "items": AdminUserSerializer(page.items, many=True).data,
                "next_cursor": page.next_cursor,
            }
        )


class AdminUserDetailView(AdminAPIView):
    @extend_schema(
        operation_id="admin_user_retrieve",
        tags=TAGS,
        summary="A user with their live sessions",
        parameters=[_USER_ID],
        responses={
            200: OpenApiResponse(AdminUserDetailSerializer, description="The user."),
            **problem_responses({**_UNAUTHORISED, 404: "USER_NOT_FOUND"}),
        },
    )
    def get(self, request: Request, user_id: int) -> Response:
        actor = self.actor(request)
        user = access_user(actor, user_id)
        sessions = live_sessions_of(actor, user)
        return Response(
            {
                **AdminUserSerializer(user).data,
                "sessions": AdminUserSessionSerializer(sessions, many=True).data,
            }
        )


class AdminUserLockView(AdminAPIView):
    @extend_schema(
        operation_id="admin_user_lock",
        tags=TAGS,
        summary="Lock a user and revoke all their sessions",
        description="The user's access tokens are refused from their next request "
        "(AUTH_SESSION_REVOKED), and logins are refused while the lock lasts. Locking a locked "
        "user replaces the reason and the end.",
        parameters=[_USER_ID],
        request=AdminUserLockSerializer,
        responses={
            200: OpenApiResponse(AdminUserSerializer, description="The user, locked."),
            **problem_responses({**_BAD_INPUT, **_UNAUTHORISED, 404: "USER_NOT_FOUND"}),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        actor = self.actor(request)
        body = AdminUserLockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = access_user(actor, user_id)
        locked = do_lock_user(
            actor,
            user,
            reason=body.validated_data["reason"],
            until=body.validated_data["until"],
            request=request,
        )
        return Response(AdminUserSerializer(locked.user).data)


class AdminUserUnlockView(AdminAPIView):
    @extend_schema(
        operation_id="admin_user_unlock",
        tags=TAGS,
        summary="Lift a user's lock",
        description="Takes no body (or `{}`). Sessions revoked by the lock stay revoked.",
        parameters=[_USER_ID],
        request=None,
        responses={
            200: OpenApiResponse(AdminUserSerializer, description="The user, unlocked."),
            **problem_responses({**_BAD_INPUT, **_UNAUTHORISED, 404: "USER_NOT_FOUND"}),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        actor = self.actor(request)
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        user = access_user(actor, user_id)
        return Response(AdminUserSerializer(do_unlock_user(actor, user, request=request)).data)


class AdminUserSessionsRevokeView(AdminAPIView):
    @extend_schema(
        operation_id="admin_user_sessions_revoke",
        tags=TAGS,
        summary="Revoke every live session of a user",
        description="Takes no body (or `{}`). The account stays usable: the user can log in "
        "again. Lock the user to keep them out.",
        parameters=[_USER_ID],
        request=None,
        responses={
            200: OpenApiResponse(SessionsRevokedSerializer, description="Sessions revoked."),
            **problem_responses({**_BAD_INPUT, **_UNAUTHORISED, 404: "USER_NOT_FOUND"}),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        actor = self.actor(request)
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        user = access_user(actor, user_id)
        revoked = do_revoke_sessions_of_user(actor, user, request=request)
        return Response(SessionsRevokedSerializer({"revoked": revoked}).data)


class SecurityEventListView(AdminAPIView):
    @extend_schema(
        operation_id="admin_security_events_list",
        tags=TAGS,
        summary="Read the security audit log, newest first",
        parameters=[SecurityEventQuerySerializer],
        responses={
            200: OpenApiResponse(SecurityEventPageSerializer, description="One page of events."),
            **problem_responses({**_BAD_INPUT, **_UNAUTHORISED}),
        },
    )
    def get(self, request: Request) -> Response:
        query = SecurityEventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = SECURITY_EVENT_PAGES.paginate(
            security_events_visible_to(
                self.actor(request),
                user_id=query.validated_data.get("user_id"),
                event_type=query.validated_data.get("event_type") or None,
            ),
            limit=query.validated_data["limit"],
            cursor=query.validated_data.get("cursor"),
        )
        return Response(
            {
                "items": SecurityEventSerializer(page.items, many=True).data,
                "next_cursor": page.next_cursor,
            }
        )
