"""TOTP (setup, enable, status, disable), backup codes, and the second step of a login."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.authn.api import login_response
from alephdraad_core.authn.permissions import IsUser
from alephdraad_core.authn.schemas import LoginResponseSerializer
from alephdraad_core.mfa import services
from alephdraad_core.mfa.codes import BACKUP_CODE, TOTP, SecondFactorCode
from alephdraad_core.mfa.schemas import (
    BackupCodeListSerializer,
    BackupCodesStatusSerializer,
    EmptyRequestSerializer,
    MfaLoginBackupCodeRequestSerializer,
    MfaLoginTotpRequestSerializer,
    TotpDisableRequestSerializer,
    TotpEnabledSerializer,
    TotpEnableRequestSerializer,
    TotpSetupSerializer,
    TotpStatusSerializer,
)
from alephdraad_core.mfa.selectors import backup_codes_remaining, totp_status
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.serializers import validated
from alephdraad_core.platform.views import no_store
from alephdraad_core.security.limits import MFA_LOGIN_PER_IP
from alephdraad_core.security.services import enforce_per_ip
from alephdraad_core.sudo.permissions import HasSudo
from alephdraad_core.sudo.schemas import SUDO_TOKEN_PARAMETER

_BAD_INPUT = "MALFORMED_REQUEST or VALIDATION_FAILED (see errors[]; a code of the wrong shape)."
_UNAUTHENTICATED = {
    401: "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED.",
}
_SUDO = {
    403: "SUDO_REQUIRED: no live X-Sudo-Token of this session (POST /auth/sudo first).",
}
_TOO_MANY = (
    "MFA_TOO_MANY_ATTEMPTS: 5 wrong codes within 15 minutes for this account, or too soon "
    "after a wrong TOTP code; with Retry-After."
)


class TotpStatusView(APIView):
    @extend_schema(
        operation_id="auth_totp_status",
        tags=["mfa"],
        summary="Whether two-factor authentication is on",
        responses={
            200: OpenApiResponse(TotpStatusSerializer, description="The account's 2FA state."),
            **problem_responses(_UNAUTHENTICATED),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(TotpStatusSerializer(totp_status(request.user)).data)


class TotpSetupView(APIView):
    @extend_schema(
        operation_id="auth_totp_setup",
        tags=["mfa"],
        summary="Start setting up an authenticator app",
        description=(
            "Creates a new secret (replacing an earlier unfinished setup) and returns it as "
            "base32 text, as an otpauth:// URI and as a QR code. Two-factor authentication is "
            "NOT on yet: it turns on only when POST /auth/totp/enable proves a code from the "
            "app, so a failed scan never locks anybody out."
        ),
        request=None,
        responses={
            200: OpenApiResponse(TotpSetupSerializer, description="Scan or type the secret."),
            **problem_responses(
                {
                    400: _BAD_INPUT,
                    **_UNAUTHENTICATED,
                    409: "TOTP_ALREADY_ENABLED: turn 2FA off first.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        validated(EmptyRequestSerializer, request.data)
        setup = services.do_setup_totp(request, user=request.user)
        return no_store(
            TotpSetupSerializer(
                {
                    "secret": setup.secret,
                    "otpauth_uri": setup.otpauth_uri,
                    "qr_svg": setup.qr_svg,
                    "issuer": setup.issuer,
                }
            ).data
        )


class TotpEnableView(APIView):
    @extend_schema(
        operation_id="auth_totp_enable",
        tags=["mfa"],
        summary="Turn two-factor authentication on with a code from the app",
        description=(
            "Proves the app set up by /auth/totp/setup produces right codes, turns 2FA on, "
            "mails the account and returns 10 backup codes — the only time they are shown. "
            "A wrong code leaves 2FA off."
        ),
        request=TotpEnableRequestSerializer,
        responses={
            200: OpenApiResponse(TotpEnabledSerializer, description="2FA is on."),
            **problem_responses(
                {
                    400: "TOTP_CODE_INVALID (wrong, expired or already used), " + _BAD_INPUT,
                    **_UNAUTHENTICATED,
                    409: "TOTP_ALREADY_ENABLED, or TOTP_SETUP_REQUIRED (no setup started).",
                    429: _TOO_MANY,
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(TotpEnableRequestSerializer, request.data)
        codes = services.do_enable_totp(request, user=request.user, code=data["code"])
        return no_store(TotpEnabledSerializer({"enabled": True, "backup_codes": codes}).data)


class TotpDisableView(APIView):
    permission_classes = (IsUser, HasSudo)

    @extend_schema(
        operation_id="auth_totp_disable",
        tags=["mfa"],
        summary="Turn two-factor authentication off",
        description=(
            "Needs sudo mode, the password and a TOTP or backup code. Deletes the secret and "
            "the backup codes, and mails the account."
        ),
        parameters=[SUDO_TOKEN_PARAMETER],
        request=TotpDisableRequestSerializer,
        responses={
            204: OpenApiResponse(description="2FA is off."),
            **problem_responses(
                {
                    400: "PASSWORD_INCORRECT (field password), TOTP_CODE_INVALID or "
                    "BACKUP_CODE_INVALID (field code), " + _BAD_INPUT,
                    **_UNAUTHENTICATED,
                    **_SUDO,
                    409: "TOTP_NOT_ENABLED.",
                    429: "RATE_LIMITED (5 wrong passwords per 15 minutes) or " + _TOO_MANY,
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(TotpDisableRequestSerializer, request.data)
        services.do_disable_totp(
            request, user=request.user, password=data["password"], code=data["code"]
        )
        return Response(status=204)


class BackupCodesStatusView(APIView):
    @extend_schema(
        operation_id="auth_backup_codes_status",
        tags=["mfa"],
        summary="How many backup codes are left",
        responses={
            200: OpenApiResponse(BackupCodesStatusSerializer, description="Unused codes."),
            **problem_responses(_UNAUTHENTICATED),
        },
    )
    def get(self, request: Request) -> Response:
        remaining = backup_codes_remaining(request.user.pk) if request.user.totp_enabled else 0
        return Response(BackupCodesStatusSerializer({"remaining": remaining}).data)


class BackupCodesRegenerateView(APIView):
    permission_classes = (IsUser, HasSudo)

    @extend_schema(
        operation_id="auth_backup_codes_regenerate",
        tags=["mfa"],
        summary="Replace the backup codes with a new set",
        description=(
            "Needs sudo mode. Returns 10 new codes (shown only this once); every earlier code "
            "stops working. Mails the account."
        ),
        parameters=[SUDO_TOKEN_PARAMETER],
        request=None,
        responses={
            200: OpenApiResponse(BackupCodeListSerializer, description="The new codes."),
            **problem_responses(
                {
                    400: _BAD_INPUT,
                    **_UNAUTHENTICATED,
                    **_SUDO,
                    409: "TOTP_NOT_ENABLED: backup codes exist only while 2FA is on.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        validated(EmptyRequestSerializer, request.data)
        codes = services.do_regenerate_backup_codes(request, user=request.user)
        return no_store(BackupCodeListSerializer({"backup_codes": codes}).data)


class _MfaLoginView(APIView):
    """The second login step: anonymous (the mfa_token is the credential), limited per IP."""

    authentication_classes = ()
    permission_classes = ()

    def _complete(self, request: Request, mfa_token: str, code: SecondFactorCode) -> Response:
        result = services.do_complete_mfa_login(request, mfa_token=mfa_token, code=code)
        return login_response(result)


_LOGIN_STEP_ERRORS = {
    401: "MFA_TOKEN_INVALID: the mfa_token is unknown, has expired (5 minutes) or was used.",
    403: "AUTH_EMAIL_UNVERIFIED or AUTH_ACCOUNT_LOCKED (locked since the first step).",
}


class MfaLoginTotpView(_MfaLoginView):
    @extend_schema(
        operation_id="auth_login_totp",
        tags=["auth"],
        summary="Finish a login with a code from the authenticator app",
        description=(
            "Opens the session a password login left pending (`mfa_required`). The mfa_token "
            "is spent only by a right code; 5 wrong codes within 15 minutes for the account "
            "answer 429 until the window ends. The access token's amr is [pwd, otp]. Limited "
            "to 10 requests per minute per client IP."
        ),
        request=MfaLoginTotpRequestSerializer,
        responses={
            200: OpenApiResponse(LoginResponseSerializer, description="Logged in."),
            **problem_responses(
                {
                    400: "TOTP_CODE_INVALID (wrong, expired or already used), " + _BAD_INPUT,
                    **_LOGIN_STEP_ERRORS,
                    429: _TOO_MANY + " Or RATE_LIMITED (per IP).",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(MFA_LOGIN_PER_IP, request)
        data = validated(MfaLoginTotpRequestSerializer, request.data)
        return self._complete(request, data["mfa_token"], SecondFactorCode(TOTP, data["code"]))


class MfaLoginBackupCodeView(_MfaLoginView):
    @extend_schema(
        operation_id="auth_login_backup_code",
        tags=["auth"],
        summary="Finish a login with a backup code",
        description=(
            "Like /auth/login/totp with one of the backup codes instead; the code is spent and "
            "the account is mailed how many are left. The access token's amr is [pwd, otp]."
        ),
        request=MfaLoginBackupCodeRequestSerializer,
        responses={
            200: OpenApiResponse(LoginResponseSerializer, description="Logged in."),
            **problem_responses(
                {
                    400: "BACKUP_CODE_INVALID (wrong or already used), " + _BAD_INPUT,
                    **_LOGIN_STEP_ERRORS,
                    429: _TOO_MANY + " Or RATE_LIMITED (per IP).",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(MFA_LOGIN_PER_IP, request)
        data = validated(MfaLoginBackupCodeRequestSerializer, request.data)
        return self._complete(
            request, data["mfa_token"], SecondFactorCode(BACKUP_CODE, data["code"])
        )
