"""Sudo mode: prove presence again (password, plus a code when 2FA is on) before dangerous
actions. The passkey way in lives with the passkeys."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.authn.authentication import UserAuth
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.sudo.schemas import (
    SudoGrantSerializer,
    SudoRequestSerializer,
    SudoStatusSerializer,
)
from alephdraad_core.sudo.selectors import current_sudo_grant
from alephdraad_core.sudo.services import do_end_sudo, do_sudo_with_password

_UNAUTHENTICATED = {
    401: "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED.",
}


class SudoView(APIView):
    @extend_schema(
        operation_id="auth_sudo_status",
        tags=["sudo"],
        summary="Whether this session is in sudo mode",
        responses={
            200: OpenApiResponse(SudoStatusSerializer, description="The session's sudo state."),
            **problem_responses(_UNAUTHENTICATED),
        },
    )
    def get(self, request: Request) -> Response:
        auth: UserAuth = request.auth
        grant = current_sudo_grant(auth.session)
        return Response(
            SudoStatusSerializer(
                {
                    "active": grant is not None,
                    "expires_at": grant.expires_at if grant else None,
                    "method": grant.method if grant else None,
                }
            ).data
        )

    @extend_schema(
        operation_id="auth_sudo_grant",
        tags=["sudo"],
        summary="Enter sudo mode for 15 minutes",
        description=(
            "Confirms it is really the account holder at this session: the password, and when "
            "two-factor authentication is on also a TOTP code or an unused backup code (spent "
            "like at login). Returns a token bound to this session, to send as X-Sudo-Token to "
            "dangerous endpoints (turning 2FA off, new backup codes, passkeys, password "
            "change, logout-all). A new grant ends the session's previous one. 5 wrong "
            "passwords per 15 minutes per account, then 429; wrong codes count towards the "
            "account's 5 per 15 minutes as at login."
        ),
        request=SudoRequestSerializer,
        responses={
            200: OpenApiResponse(SudoGrantSerializer, description="Sudo mode is on."),
            **problem_responses(
                {
                    400: "PASSWORD_INCORRECT (field password), MFA_CODE_REQUIRED (2FA is on "
                    "and no code was sent), TOTP_CODE_INVALID or BACKUP_CODE_INVALID (field "
                    "code), MALFORMED_REQUEST or VALIDATION_FAILED.",
                    **_UNAUTHENTICATED,
                    429: "RATE_LIMITED (too many wrong passwords) or MFA_TOO_MANY_ATTEMPTS "
                    "(too many wrong codes); both with Retry-After.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = SudoRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        auth: UserAuth = request.auth
        issued = do_sudo_with_password(
            request,
            user=request.user,
            session=auth.session,
            password=serializer.validated_data["password"],
            code=serializer.validated_data.get("code"),
        )
        response = Response(
            SudoGrantSerializer({"sudo_token": issued.token, "expires_at": issued.expires_at}).data
        )
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        operation_id="auth_sudo_end",
        tags=["sudo"],
        summary="Leave sudo mode now",
        responses={
            204: OpenApiResponse(description="This session's sudo mode has ended."),
            **problem_responses(_UNAUTHENTICATED),
        },
    )
    def delete(self, request: Request) -> Response:
        auth: UserAuth = request.auth
        do_end_sudo(request, session=auth.session)
        return Response(status=204)
