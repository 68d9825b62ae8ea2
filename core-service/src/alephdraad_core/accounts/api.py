"""Registration, email verification, password reset (anonymous) and the signed-in user's own
account (`/me`, user token)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.accounts import services
from alephdraad_core.accounts.schemas import (
    AccountDeleteSerializer,
    AccountMessageSerializer,
    AccountSerializer,
    EmailAddressSerializer,
    EmailVerifiedSerializer,
    PasswordChangeSerializer,
    PasswordResetSerializer,
    ProfileUpdateSerializer,
    RegisterResponseSerializer,
    RegisterSerializer,
    UsernameChangeSerializer,
    VerifyEmailConfirmSerializer,
)
from alephdraad_core.authn.permissions import IsUser
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.serializers import validated
from alephdraad_core.platform.views import AnonymousAPIView
from alephdraad_core.security import limits
from alephdraad_core.security.services import enforce, enforce_per_ip
from alephdraad_core.sudo.permissions import HasSudo
from alephdraad_core.sudo.schemas import SUDO_TOKEN_PARAMETER

REGISTERED_MESSAGE = (
    "Check your inbox: we sent a message to this address. Follow its link to verify your "
    "email address before you log in."
)
VERIFICATION_REQUESTED_MESSAGE = (
    "If this address belongs to an account that still needs verifying, a new verification "
    "link is on its way."
)
RESET_REQUESTED_MESSAGE = (
    "If this address belongs to an account, a link to reset its password is on its way."
)

_BAD_INPUT = "MALFORMED_REQUEST (not JSON) or VALIDATION_FAILED (field errors in errors[])."
_RATE_LIMITED = "RATE_LIMITED: too many requests from this client; see Retry-After."
_UNAUTHENTICATED = (
    "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED "
    "(token refused or its session ended)."
)


class RegisterView(AnonymousAPIView):
    @extend_schema(
        operation_id="auth_register",
        tags=["auth"],
        summary="Create an account",
        description=(
            "Creates an unverified account and mails a verification link. An address that "
            "already has an account gets the same 201 (no account enumeration) and a mail "
            "telling its owner that someone tried to register with it; nothing else changes. "
            "Limited to 6 requests per minute per client IP."
        ),
        request=RegisterSerializer,
        responses={
            201: OpenApiResponse(RegisterResponseSerializer, description="Check the mailbox."),
            **problem_responses(
                {
                    400: _BAD_INPUT,
                    409: "USERNAME_TAKEN: the username belongs to another account.",
                    429: _RATE_LIMITED,
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(limits.REGISTER_PER_IP, request)
        data = validated(RegisterSerializer, request.data)
        services.do_register(
            email=data["email"],
            username=data["username"],
            full_name=data["full_name"],
            password=data["password"],
            request=request,
        )
        return Response(
            {"message": REGISTERED_MESSAGE, "verification": {"required": True}}, status=201
        )


class VerifyEmailConfirmView(AnonymousAPIView):
    @extend_schema(
        operation_id="auth_verify_email_confirm",
        tags=["auth"],
        summary="Verify an email address with the token from the mailed link",
        request=VerifyEmailConfirmSerializer,
        responses={
            200: OpenApiResponse(EmailVerifiedSerializer, description="The address is verified."),
            **problem_responses(
                {
                    400: "VERIFICATION_TOKEN_INVALID (unknown, expired or already used), "
                    + _BAD_INPUT,
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(VerifyEmailConfirmSerializer, request.data)
        services.do_confirm_email(token=data["token"], request=request)
        return Response({"message": "Your email address is verified.", "verified": True})


class VerifyEmailRequestView(AnonymousAPIView):
    @extend_schema(
        operation_id="auth_verify_email_request",
        tags=["auth"],
        summary="Mail a new verification link",
        description=(
            "Answers 202 whatever the address: unknown, already verified or past its mail cap "
            "(2 per address and 10 per client IP per 24 h) all look the same. Requests are "
            "limited to 10 per minute per client IP, shared with password/forgot."
        ),
        request=EmailAddressSerializer,
        responses={
            202: OpenApiResponse(AccountMessageSerializer, description="Accepted."),
            **problem_responses({400: _BAD_INPUT, 429: _RATE_LIMITED}),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(limits.EMAIL_REQUEST_PER_IP, request)
        data = validated(EmailAddressSerializer, request.data)
        services.do_request_verification_mail(email=data["email"], request=request)
        return Response({"message": VERIFICATION_REQUESTED_MESSAGE}, status=202)


class PasswordForgotView(AnonymousAPIView):
    @extend_schema(
        operation_id="auth_password_forgot",
        tags=["auth"],
        summary="Mail a password-reset link",
        description=(
            "Answers 202 whatever the address: unknown or past its mail cap (3 per address per "
            "24 h) look the same. The link is valid for 1 hour. Requests are limited to 10 per "
            "minute per client IP, shared with verify-email/request."
        ),
        request=EmailAddressSerializer,
        responses={
            202: OpenApiResponse(AccountMessageSerializer, description="Accepted."),
            **problem_responses({400: _BAD_INPUT, 429: _RATE_LIMITED}),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(limits.EMAIL_REQUEST_PER_IP, request)
        data = validated(EmailAddressSerializer, request.data)
        services.do_request_password_reset(email=data["email"], request=request)
        return Response({"message": RESET_REQUESTED_MESSAGE}, status=202)


class PasswordResetView(AnonymousAPIView):
    @extend_schema(
        operation_id="auth_password_reset",
        tags=["auth"],
        summary="Set a new password with the token from the mailed link",
        description=(
            "Ends every session of the account and mails a notice. The reset also verifies the "
            "email address, since the link reached its mailbox."
        ),
        request=PasswordResetSerializer,
        responses={
            200: OpenApiResponse(AccountMessageSerializer, description="The password is set."),
            **problem_responses(
                {400: "RESET_TOKEN_INVALID (unknown, expired or already used), " + _BAD_INPUT}
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(PasswordResetSerializer, request.data)
        services.do_reset_password(
            token=data["token"], new_password=data["new_password"], request=request
        )
        return Response(
            {"message": "Your password is set. Every device was signed out; log in again."}
        )


class MeView(APIView):
    def get_permissions(self) -> list[BasePermission]:
        # Deleting the account is the most dangerous thing a stolen access token could do.
        if self.request.method == "DELETE":
            return [IsUser(), HasSudo()]
        return list(super().get_permissions())

    @extend_schema(
        operation_id="account_me",
        tags=["account"],
        summary="The signed-in user's account",
        responses={
            200: OpenApiResponse(AccountSerializer, description="The account."),
            **problem_responses({401: _UNAUTHENTICATED}),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(AccountSerializer(request.user).data)

    @extend_schema(
        operation_id="account_me_update",
        tags=["account"],
        summary="Change the full name or avatar URL",
        description="Only `full_name` and `avatar_url` can change here; any other field is a 400.",
        request=ProfileUpdateSerializer,
        responses={
            200: OpenApiResponse(AccountSerializer, description="The updated account."),
            **problem_responses({400: _BAD_INPUT, 401: _UNAUTHENTICATED}),
        },
    )
    def patch(self, request: Request) -> Response:
        data = validated(ProfileUpdateSerializer, request.data)
        user = services.do_update_profile(request.user, data)
        return Response(AccountSerializer(user).data)

    @extend_schema(
        operation_id="account_delete",
        tags=["account"],
        summary="Delete the account",
        description=(
            'Needs sudo mode (X-Sudo-Token of POST /auth/sudo) and `{"confirmation": '
            '"DELETE"}`. The feature service is asked first whether anything it holds (a '
            "wallet balance, money in flight) blocks the deletion; if it cannot be reached "
            "nothing changes and the answer is 503 with Retry-After. Then, at once: every "
            "session ends (all access and refresh tokens are refused), passkeys, 2FA, backup "
            "codes, pending links and badges are erased, and the account becomes an anonymous "
            "tombstone: the username and email address are free for anyone, the profile is "
            "gone, and threads stay, their author shown as `deleted-<id>`. 5 attempts per hour."
        ),
        parameters=[SUDO_TOKEN_PARAMETER],
        request=AccountDeleteSerializer,
        responses={
            204: OpenApiResponse(description="The account is deleted."),
            **problem_responses(
                {
                    400: _BAD_INPUT,
                    401: _UNAUTHENTICATED,
                    403: "SUDO_REQUIRED: no live X-Sudo-Token of this session.",
                    409: "ACCOUNT_DELETION_BLOCKED: `blocking_reasons` says what to settle "
                    "first; nothing was changed.",
                    422: 'UNPROCESSABLE_CONTENT: `confirmation` is not exactly "DELETE".',
                    429: "RATE_LIMITED: too many attempts for this account; see Retry-After.",
                    503: "UPSTREAM_UNAVAILABLE: the feature service could not be asked; "
                    "nothing was changed. See Retry-After.",
                }
            ),
        },
    )
    def delete(self, request: Request) -> Response:
        validated(AccountDeleteSerializer, request.data)
        # Counted once the body is right, so a mistyped confirmation costs no attempt.
        enforce(limits.ACCOUNT_DELETE_PER_USER, str(request.user.pk))
        services.do_delete_account(request.user, request=request)
        return Response(status=204)


class MePasswordView(APIView):
    permission_classes = (IsUser, HasSudo)

    @extend_schema(
        operation_id="account_password_change",
        tags=["account"],
        summary="Change the password",
        description=(
            "Needs sudo mode (X-Sudo-Token of POST /auth/sudo) and the current password; ends "
            "every other session and mails a notice. Attempts are limited to 5 per 15 minutes "
            "per user."
        ),
        parameters=[SUDO_TOKEN_PARAMETER],
        request=PasswordChangeSerializer,
        responses={
            200: OpenApiResponse(AccountMessageSerializer, description="The password changed."),
            **problem_responses(
                {
                    400: "PASSWORD_INCORRECT (current_password is wrong), " + _BAD_INPUT,
                    401: _UNAUTHENTICATED,
                    403: "SUDO_REQUIRED: no live X-Sudo-Token of this session.",
                    429: "RATE_LIMITED: too many attempts for this account; see Retry-After.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce(limits.PASSWORD_CHANGE_PER_USER, str(request.user.pk))
        data = validated(PasswordChangeSerializer, request.data)
        services.do_change_password(
            user=request.user,
            current_password=data["current_password"],
            new_password=data["new_password"],
            keep_session_id=request.auth.session.pk,
            request=request,
        )
        return Response(
            {"message": "Your password was changed. Every other device was signed out."}
        )


class MeUsernameView(APIView):
    # Sudo, although DESIGN section 4 does not list it: a username changes once per 30 days,
    # so a rename through a stolen access token could not be undone by the owner for a month,
    # and the name is how everyone else recognises the account.
    permission_classes = (IsUser, HasSudo)

    @extend_schema(
        operation_id="account_username_change",
        tags=["account"],
        summary="Change the username (once per 30 days)",
        description=(
            "Needs sudo mode (X-Sudo-Token of POST /auth/sudo). The new name follows the rules "
            "of registration (pattern and reserved names). One change per 30 days: an earlier "
            "one answers 409 USERNAME_CHANGE_TOO_SOON with `available_at` (ISO 8601) and "
            "`retry_after` (seconds). Asking for the current username changes nothing and "
            "answers 200. The old name is free for others at once. Access tokens issued before "
            "the change carry the old name in their `username` claim until they expire."
        ),
        parameters=[SUDO_TOKEN_PARAMETER],
        request=UsernameChangeSerializer,
        responses={
            200: OpenApiResponse(AccountSerializer, description="The updated account."),
            **problem_responses(
                {
                    400: _BAD_INPUT,
                    401: _UNAUTHENTICATED,
                    403: "SUDO_REQUIRED: no live X-Sudo-Token of this session.",
                    409: "USERNAME_TAKEN (another account has it) or USERNAME_CHANGE_TOO_SOON "
                    "(changed less than 30 days ago; see `available_at`).",
                }
            ),
        },
    )
    def patch(self, request: Request) -> Response:
        data = validated(UsernameChangeSerializer, request.data)
        user = services.do_change_username(request.user, username=data["username"], request=request)
        return Response(AccountSerializer(user).data)
