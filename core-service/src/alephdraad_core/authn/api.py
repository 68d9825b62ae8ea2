"""Login, refresh, logout and session endpoints, and GET /.well-known/jwks.json."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.authn.authentication import UserAuth
from alephdraad_core.authn.keys import keyring
from alephdraad_core.authn.permissions import IsUser
from alephdraad_core.authn.schemas import (
    JwksSerializer,
    LoginRequestSerializer,
    LoginResponseSerializer,
    LoginUserSerializer,
    LogoutAllRequestSerializer,
    LogoutAllResponseSerializer,
    LogoutRequestSerializer,
    MfaChallengeSerializer,
    RefreshRequestSerializer,
    SessionListSerializer,
    TokenPairSerializer,
)
from alephdraad_core.authn.selectors import access_session, live_sessions
from alephdraad_core.authn.services import (
    LoginResult,
    TokenPair,
    do_login,
    do_logout,
    do_logout_all,
    do_refresh,
    do_revoke_session,
)
from alephdraad_core.mfa.challenges import MfaChallenge
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.serializers import validated
from alephdraad_core.platform.views import no_store
from alephdraad_core.security.limits import LOGIN_PER_IP, REFRESH_PER_IP
from alephdraad_core.security.services import enforce_per_ip
from alephdraad_core.sudo.permissions import HasSudo
from alephdraad_core.sudo.schemas import SUDO_TOKEN_PARAMETER

# Verifiers may cache the set this long. A verifier that meets an unknown kid refetches
# (DESIGN section 4), and a retired key stays published well past this, so caching is safe.
JWKS_MAX_AGE_S = 300

_BAD_INPUT = {400: "MALFORMED_REQUEST or VALIDATION_FAILED (see errors[])."}
_TOKEN_REFUSED = {
    401: "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID (forged, expired or not a user "
    "token) or AUTH_SESSION_REVOKED (the session has ended).",
    403: "AUTH_ACCOUNT_LOCKED: an administrator locked the account.",
}


def login_response(result: LoginResult) -> Response:
    """The answer of every login path that opened a session: tokens and the user."""
    return no_store({**_token_pair(result.tokens), "user": LoginUserSerializer(result.user).data})


def _token_pair(pair: TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access.token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.access.expires_in,
    }


class JwksView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        operation_id="jwks",
        tags=["auth"],
        summary="Public keys that verify access tokens (JWKS)",
        responses={200: OpenApiResponse(JwksSerializer, description="The published keys.")},
    )
    def get(self, request: Request) -> Response:
        response = Response(keyring().jwks())
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
        return response


class LoginView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        operation_id="auth_login",
        tags=["auth"],
        summary="Log in with email or username and password",
        description=(
            "Opens a session (at most 10 live per user; the oldest is ended) and returns its "
            "first token pair. 5 wrong passwords within 30 minutes pause password login for "
            "15 minutes (429 AUTH_LOGIN_LOCKED). When the account has two-factor "
            "authentication on, a right password answers `{mfa_required: true, mfa_token, "
            "methods, expires_in}` instead and no session exists yet: finish with POST "
            "/auth/login/totp or /auth/login/backup-code within 5 minutes."
        ),
        request=LoginRequestSerializer,
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="LoginResult",
                    serializers=[LoginResponseSerializer, MfaChallengeSerializer],
                    resource_type_field_name=None,
                ),
                description="Logged in (tokens and user), or a second factor is needed "
                "(mfa_required: true).",
            ),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    401: "AUTH_INVALID_CREDENTIALS: unknown login or wrong password (one "
                    "answer for both).",
                    403: "AUTH_EMAIL_UNVERIFIED (after a correct password) or "
                    "AUTH_ACCOUNT_LOCKED (with reason and until).",
                    429: "RATE_LIMITED (10 per minute per IP) or AUTH_LOGIN_LOCKED; both "
                    "with Retry-After.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(LOGIN_PER_IP, request)
        data = validated(LoginRequestSerializer, request.data)
        result = do_login(
            request,
            login=data["login"],
            password=data["password"],
            device_fingerprint=data.get("device_fingerprint"),
        )
        if isinstance(result, MfaChallenge):
            return no_store(
                {
                    "mfa_required": True,
                    "mfa_token": result.token,
                    "methods": result.methods,
                    "expires_in": result.expires_in,
                }
            )
        return login_response(result)


class RefreshView(APIView):
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        operation_id="auth_refresh",
        tags=["auth"],
        summary="Exchange a refresh token for the next token pair",
        description=(
            "Rotates the refresh token. Presenting the token just replaced again within 30 s "
            "(a second tab) returns the same new pair; presenting a replaced token later ends "
            "the session and mails its owner."
        ),
        request=RefreshRequestSerializer,
        responses={
            200: OpenApiResponse(TokenPairSerializer, description="The next pair."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    401: "AUTH_REFRESH_TOKEN_INVALID: unknown, reused, or its session ended "
                    "or expired.",
                    403: "AUTH_ACCOUNT_LOCKED: an administrator locked the account.",
                    429: "RATE_LIMITED: 30 per minute per IP, with Retry-After.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(REFRESH_PER_IP, request)
        data = validated(RefreshRequestSerializer, request.data)
        return no_store(_token_pair(do_refresh(request, refresh_token=data["refresh_token"])))


class LogoutView(APIView):
    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        summary="End this session",
        description=(
            "Ends the session of the access token, or the caller's session that owns the "
            "given refresh token. Its access and refresh tokens are refused from then on."
        ),
        request=LogoutRequestSerializer,
        responses={
            204: OpenApiResponse(description="The session has ended."),
            **problem_responses({**_BAD_INPUT, **_TOKEN_REFUSED}),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(LogoutRequestSerializer, request.data)
        auth: UserAuth = request.auth
        do_logout(
            request,
            user=request.user,
            current_session=auth.session,
            refresh_token=data.get("refresh_token"),
        )
        return Response(status=204)


class LogoutAllView(APIView):
    permission_classes = (IsUser, HasSudo)

    @extend_schema(
        operation_id="auth_logout_all",
        tags=["auth"],
        summary="End every session of this account",
        description="Needs sudo mode: send the token of POST /auth/sudo as X-Sudo-Token.",
        parameters=[SUDO_TOKEN_PARAMETER],
        request=LogoutAllRequestSerializer,
        responses={
            200: OpenApiResponse(LogoutAllResponseSerializer, description="Sessions ended."),
            **problem_responses(
                {
                    **_BAD_INPUT,
                    **_TOKEN_REFUSED,
                    403: "SUDO_REQUIRED: no live X-Sudo-Token of this session; or "
                    "AUTH_ACCOUNT_LOCKED: an administrator locked the account.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(LogoutAllRequestSerializer, request.data)
        auth: UserAuth = request.auth
        revoked = do_logout_all(
            request,
            user=request.user,
            current_session=auth.session,
            keep_current=data["keep_current"],
        )
        return Response(LogoutAllResponseSerializer({"revoked": revoked}).data)


class SessionListView(APIView):
    @extend_schema(
        operation_id="sessions_list",
        tags=["sessions"],
        summary="The caller's live sessions, newest first",
        responses={
            200: OpenApiResponse(SessionListSerializer, description="Live sessions."),
            **problem_responses(_TOKEN_REFUSED),
        },
    )
    def get(self, request: Request) -> Response:
        auth: UserAuth = request.auth
        items = [
            {
                "id": session.pk,
                "device_fingerprint_set": session.device_fingerprint is not None,
                "ip_address": session.ip_address,
                "user_agent": session.user_agent,
                "created_at": session.created_at,
                "last_active_at": session.last_active_at,
                "expires_at": session.expires_at,
                "current": session.pk == auth.session.pk,
            }
            for session in live_sessions(request.user, timezone.now())
        ]
        return Response(SessionListSerializer({"items": items, "next_cursor": None}).data)


class SessionDetailView(APIView):
    @extend_schema(
        operation_id="sessions_revoke",
        tags=["sessions"],
        summary="End one of the caller's sessions",
        parameters=[
            OpenApiParameter("session_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        responses={
            204: OpenApiResponse(description="The session has ended."),
            **problem_responses(
                {
                    **_TOKEN_REFUSED,
                    404: "SESSION_NOT_FOUND: no live session of the caller has this id.",
                }
            ),
        },
    )
    def delete(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id, timezone.now())
        do_revoke_session(request, user=request.user, session=session)
        return Response(status=204)
