"""Routes that both users and admins use (reading a thread, deleting one) accept either token.

DRF tries authenticators in order and the first to raise wins, so UserTokenAuthentication
would refuse an admin token (wrong audience) before AdminTokenAuthentication saw it. The user
authenticator here steps aside when the token *says* it is for admins; AdminTokenAuthentication
then verifies it fully (signature, issuer, audience, lifetime, active admin), so a forged claim
gains nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jwt
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.authentication import (
    AdminTokenAuthentication,
    UserAuth,
    UserTokenAuthentication,
    bearer_token,
)
from alephdraad_core.authn.tokens import ADMIN_AUDIENCE


class UserTokenUnlessAdminAuthentication(UserTokenAuthentication):
    def authenticate(self, request: Request) -> tuple[User, UserAuth] | None:
        token = bearer_token(request)
        if token is not None and ADMIN_AUDIENCE in _claimed_audiences(token):
            return None
        return super().authenticate(request)


def _claimed_audiences(token: str) -> list[str]:
    """The unverified `aud` claim, only to choose which authenticator verifies the token."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return []
    audience = claims.get("aud")
    if isinstance(audience, str):
        return [audience]
    if isinstance(audience, list):
        return [item for item in audience if isinstance(item, str)]
    return []


# A user token or an admin token, whichever the caller holds.
USER_OR_ADMIN_AUTHENTICATION = (UserTokenUnlessAdminAuthentication, AdminTokenAuthentication)


class UserTokenUnlessAdminScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    """Documents the class as the existing `userToken` scheme. drf-spectacular keys a scheme
    component by authenticator class, so this one names the requirement and registers no
    component of its own (UserTokenAuthentication's, used by most views, defines it)."""

    target_class = "alephdraad_core.content.authentication.UserTokenUnlessAdminAuthentication"
    name: ClassVar[list[str]] = []

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[Any]]:
        return {"userToken": []}

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return []
