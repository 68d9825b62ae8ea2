"""Passkey endpoints: register, log in and confirm sudo with a passkey; list, rename, delete.

Each ceremony is begin -> {ceremony_id, options} (hand `options` to navigator.credentials) and
finish {ceremony_id, credential} (what the browser returned, as JSON).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alephdraad_core.authn.authentication import UserAuth
from alephdraad_core.authn.permissions import IsUser
from alephdraad_core.authn.schemas import LoginResponseSerializer, LoginUserSerializer
from alephdraad_core.authn.services import LoginResult
from alephdraad_core.passkeys import services
from alephdraad_core.passkeys.models import Credential
from alephdraad_core.passkeys.schemas import (
    PasskeyAssertionRequestSerializer,
    PasskeyCeremonySerializer,
    PasskeyListSerializer,
    PasskeyLoginBeginRequestSerializer,
    PasskeyLoginFinishRequestSerializer,
    PasskeyRegisterFinishRequestSerializer,
    PasskeyRenameRequestSerializer,
    PasskeySerializer,
)
from alephdraad_core.passkeys.selectors import access_passkey, passkeys_of
from alephdraad_core.platform.schemas import problem_responses
from alephdraad_core.platform.serializers import validated
from alephdraad_core.platform.views import AnonymousAPIView, no_store
from alephdraad_core.security.limits import LOGIN_PER_IP
from alephdraad_core.security.services import enforce_per_ip
from alephdraad_core.sudo.permissions import HasSudo
from alephdraad_core.sudo.schemas import SudoGrantSerializer

_TAGS = ["passkeys"]
_BAD_INPUT = "MALFORMED_REQUEST (not JSON) or VALIDATION_FAILED (field errors in errors[])."
_UNAUTHENTICATED = (
    "UNAUTHENTICATED (no token), AUTH_TOKEN_INVALID or AUTH_SESSION_REVOKED "
    "(token refused or its session ended)."
)
_LOCKED = "AUTH_ACCOUNT_LOCKED: an administrator locked the account."
_NO_SUDO = _LOCKED + " SUDO_REQUIRED: send a live X-Sudo-Token of this session."
_CEREMONY_REFUSED = (
    "WEBAUTHN_CHALLENGE_INVALID (the ceremony is unknown, expired, already finished or another "
    "session's), PASSKEY_VERIFICATION_FAILED (wrong origin or RP id, bad signature, tampered "
    "or garbled response, no user verification, or a passkey that is not registered) or "
    + _BAD_INPUT
)
_NOT_FOUND = "PASSKEY_NOT_FOUND: the caller has no passkey with this id."
_PASSKEY_ID = OpenApiParameter("passkey_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _ceremony(ceremony: services.Ceremony) -> Response:
    body = {"ceremony_id": ceremony.ceremony_id, "options": ceremony.options}
    return no_store(PasskeyCeremonySerializer(body).data)


def _passkey(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.pk,
        "name": credential.name,
        "created_at": credential.created_at,
        "last_used_at": credential.last_used_at,
        "backup_eligible": credential.backup_eligible,
        "backup_state": credential.backup_state,
        "transports": list(credential.transports),
    }


def _login_body(result: LoginResult) -> dict[str, Any]:
    """The same body as POST /auth/login."""
    return {
        "access_token": result.tokens.access.token,
        "refresh_token": result.tokens.refresh_token,
        "token_type": "Bearer",
        "expires_in": result.tokens.access.expires_in,
        "user": LoginUserSerializer(result.user).data,
    }


class PasskeyListView(APIView):
    @extend_schema(
        operation_id="passkeys_list",
        tags=_TAGS,
        summary="The caller's passkeys, oldest first",
        responses={
            200: OpenApiResponse(PasskeyListSerializer, description="The passkeys."),
            **problem_responses({401: _UNAUTHENTICATED, 403: _LOCKED}),
        },
    )
    def get(self, request: Request) -> Response:
        items = [_passkey(credential) for credential in passkeys_of(request.user)]
        return Response(PasskeyListSerializer({"items": items, "next_cursor": None}).data)


class PasskeyRegisterBeginView(APIView):
    permission_classes = (IsUser, HasSudo)

    @extend_schema(
        operation_id="passkeys_register_begin",
        tags=_TAGS,
        summary="Begin adding a passkey (sudo)",
        description=(
            "Returns creation options: a discoverable credential (residentKey required), user "
            "verification required, attestation none; excludeCredentials lists the caller's "
            "passkeys. Finish within 5 minutes from the same session."
        ),
        request=None,
        responses={
            200: OpenApiResponse(PasskeyCeremonySerializer, description="Creation options."),
            **problem_responses(
                {
                    401: _UNAUTHENTICATED,
                    403: _NO_SUDO,
                    409: "PASSKEY_LIMIT_REACHED: the account already has 20 passkeys.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        auth: UserAuth = request.auth
        return _ceremony(services.do_begin_registration(user=request.user, session=auth.session))


class PasskeyRegisterFinishView(APIView):
    @extend_schema(
        operation_id="passkeys_register_finish",
        tags=_TAGS,
        summary="Finish adding a passkey",
        description=(
            "Verifies the new credential against the challenge, the relying party id and the "
            "allowed origins, stores it and mails the account a notice. Only the session that "
            "began the ceremony (in sudo mode) can finish it."
        ),
        request=PasskeyRegisterFinishRequestSerializer,
        responses={
            201: OpenApiResponse(PasskeySerializer, description="The new passkey."),
            **problem_responses(
                {
                    400: _CEREMONY_REFUSED,
                    401: _UNAUTHENTICATED,
                    403: _LOCKED,
                    409: "PASSKEY_ALREADY_REGISTERED (this credential is on record) or "
                    "PASSKEY_LIMIT_REACHED.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(PasskeyRegisterFinishRequestSerializer, request.data)
        auth: UserAuth = request.auth
        credential = services.do_finish_registration(
            request,
            user=request.user,
            session=auth.session,
            ceremony_id=data["ceremony_id"],
            name=data["name"],
            credential=data["credential"],
        )
        return Response(PasskeySerializer(_passkey(credential)).data, status=201)


class PasskeyLoginBeginView(AnonymousAPIView):
    @extend_schema(
        operation_id="passkeys_login_begin",
        tags=_TAGS,
        summary="Begin logging in with a passkey",
        description=(
            "Without `login` the login is username-less: allowCredentials is empty and the "
            "authenticator offers the passkeys it holds for this site. With one, "
            "allowCredentials lists that account's passkeys; a login that names no account, "
            "or one without passkeys, gets plausible made-up entries instead, so the answer "
            "does not tell whether the account exists. Shares the login limit of 10 per "
            "minute per IP."
        ),
        request=PasskeyLoginBeginRequestSerializer,
        responses={
            200: OpenApiResponse(PasskeyCeremonySerializer, description="Request options."),
            **problem_responses(
                {400: _BAD_INPUT, 429: "RATE_LIMITED: 10 per minute per IP, with Retry-After."}
            ),
        },
    )
    def post(self, request: Request) -> Response:
        enforce_per_ip(LOGIN_PER_IP, request)
        data = validated(PasskeyLoginBeginRequestSerializer, request.data)
        return _ceremony(services.do_begin_login(login=data.get("login")))


class PasskeyLoginFinishView(AnonymousAPIView):
    @extend_schema(
        operation_id="passkeys_login_finish",
        tags=_TAGS,
        summary="Finish logging in with a passkey",
        description=(
            "Verifies the assertion and opens a session, answering like POST /auth/login. "
            "A passkey with user verification counts as multi-factor: the access token's amr "
            'is ["hwk"] and no TOTP code is asked for. The account is mailed a notice.'
        ),
        request=PasskeyLoginFinishRequestSerializer,
        responses={
            200: OpenApiResponse(LoginResponseSerializer, description="Logged in."),
            **problem_responses(
                {
                    400: _CEREMONY_REFUSED,
                    403: "AUTH_EMAIL_UNVERIFIED or AUTH_ACCOUNT_LOCKED (with reason and until).",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(PasskeyLoginFinishRequestSerializer, request.data)
        result = services.do_finish_login(
            request,
            ceremony_id=data["ceremony_id"],
            credential=data["credential"],
            device_fingerprint=data.get("device_fingerprint"),
        )
        return no_store(_login_body(result))


class PasskeyDetailView(APIView):
    def get_permissions(self) -> list[BasePermission]:
        # Removing a factor is dangerous (sudo); renaming one is not.
        if self.request.method == "DELETE":
            return [IsUser(), HasSudo()]
        return [IsUser()]

    @extend_schema(
        operation_id="passkeys_rename",
        tags=_TAGS,
        summary="Rename one of the caller's passkeys",
        parameters=[_PASSKEY_ID],
        request=PasskeyRenameRequestSerializer,
        responses={
            200: OpenApiResponse(PasskeySerializer, description="The renamed passkey."),
            **problem_responses(
                {400: _BAD_INPUT, 401: _UNAUTHENTICATED, 403: _LOCKED, 404: _NOT_FOUND}
            ),
        },
    )
    def patch(self, request: Request, passkey_id: str) -> Response:
        credential = access_passkey(request.user, passkey_id)
        data = validated(PasskeyRenameRequestSerializer, request.data)
        credential = services.do_rename_passkey(request, credential=credential, name=data["name"])
        return Response(PasskeySerializer(_passkey(credential)).data)

    @extend_schema(
        operation_id="passkeys_delete",
        tags=_TAGS,
        summary="Remove one of the caller's passkeys (sudo)",
        description="It can no longer sign in; the account is mailed a notice.",
        parameters=[_PASSKEY_ID],
        responses={
            204: OpenApiResponse(description="Removed."),
            **problem_responses({401: _UNAUTHENTICATED, 403: _NO_SUDO, 404: _NOT_FOUND}),
        },
    )
    def delete(self, request: Request, passkey_id: str) -> Response:
        credential = access_passkey(request.user, passkey_id)
        services.do_delete_passkey(request, credential=credential)
        return Response(status=204)


class SudoPasskeyBeginView(APIView):
    @extend_schema(
        operation_id="sudo_passkey_begin",
        tags=_TAGS,
        summary="Begin confirming it's you with a passkey (sudo mode)",
        description=(
            "Request options limited to the caller's passkeys, user verification required. "
            "Only this session can finish the ceremony."
        ),
        request=None,
        responses={
            200: OpenApiResponse(PasskeyCeremonySerializer, description="Request options."),
            **problem_responses(
                {
                    401: _UNAUTHENTICATED,
                    403: _LOCKED,
                    409: "PASSKEY_NONE_REGISTERED: use POST /auth/sudo with the password.",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        auth: UserAuth = request.auth
        return _ceremony(services.do_begin_sudo(user=request.user, session=auth.session))


class SudoPasskeyFinishView(APIView):
    @extend_schema(
        operation_id="sudo_passkey_finish",
        tags=_TAGS,
        summary="Finish confirming it's you with a passkey: a sudo token",
        description="The token lasts 15 minutes and works only with this session's tokens.",
        request=PasskeyAssertionRequestSerializer,
        responses={
            200: OpenApiResponse(SudoGrantSerializer, description="Sudo mode is on."),
            **problem_responses({400: _CEREMONY_REFUSED, 401: _UNAUTHENTICATED, 403: _LOCKED}),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(PasskeyAssertionRequestSerializer, request.data)
        auth: UserAuth = request.auth
        issued = services.do_finish_sudo(
            request,
            user=request.user,
            session=auth.session,
            ceremony_id=data["ceremony_id"],
            credential=data["credential"],
        )
        body = {"sudo_token": issued.token, "expires_at": issued.expires_at}
        return no_store(SudoGrantSerializer(body).data)
