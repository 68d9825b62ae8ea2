"""Verifying core's access tokens (EdDSA JWTs) with the keys core publishes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt

from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.auth.jwks import JwksProvider, JwksUnavailable
from alephdraad_feature.internal.errors import UpstreamUnavailable

USER_AUDIENCE = "alephdraad:user"
ADMIN_AUDIENCE = "alephdraad:admin"
ALGORITHM = "EdDSA"
# Clock skew tolerated between core and us (core uses the same).
LEEWAY = timedelta(seconds=5)
USER_CLAIMS = ("iss", "aud", "sub", "sid", "jti", "iat", "exp", "username", "amr", "mfa")
ADMIN_CLAIMS = ("iss", "aud", "sub", "jti", "iat", "exp", "username")


async def verify_access_token(
    token: str, *, audience: str, issuer: str, keys: JwksProvider
) -> dict[str, Any]:
    """The token's claims, or `TokenInvalid`. Only EdDSA with a key core publishes passes, so
    `alg: none` and an HS256 token "signed" with the public key both fail."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenInvalid() from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise TokenInvalid()
    try:
        key = await keys.key(kid)
    except JwksUnavailable:
        raise UpstreamUnavailable(
            "The keys to verify the access token could not be fetched; try again shortly."
        ) from None
    if key is None:
        raise TokenInvalid()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": list(USER_CLAIMS if audience == USER_AUDIENCE else ADMIN_CLAIMS)},
        )
    except jwt.PyJWTError:
        raise TokenInvalid() from None
    return claims
