"""Litestar dependencies for handlers: `current_user: NamedDependency[CurrentUser]` (a
member's access token) and `current_admin: NamedDependency[CurrentAdmin]` (an admin token).
The two audiences never mix: an admin token on a member route, or the reverse, is
AUTH_TOKEN_INVALID like a forged one.

Tokens are checked locally (signature, issuer, audience, lifetime). Session revocation reaches
us when the 5-minute token expires; money-moving handlers (a later issue) additionally ask core
whether the session is still active (`CoreClient.session_state`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar, Request
from litestar.datastructures import State

from alephdraad_feature.auth.errors import TokenInvalid, Unauthenticated
from alephdraad_feature.auth.jwks import JwksFetch, JwksProvider, http_jwks_fetch
from alephdraad_feature.auth.tokens import ADMIN_AUDIENCE, USER_AUDIENCE, verify_access_token
from alephdraad_feature.settings import Settings

JWKS_STATE_KEY = "jwks"
ISSUER_STATE_KEY = "jwt_issuer"


@dataclass(frozen=True, slots=True)
class CurrentUser:
    user_id: int
    username: str
    session_id: str
    amr: tuple[str, ...]
    mfa: bool


@dataclass(frozen=True, slots=True)
class CurrentAdmin:
    admin_id: int
    username: str


def _bearer(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated()
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("The Authorization header must be `Bearer <access token>`.")
    return token.strip()


async def _claims(request: Request[Any, Any, Any], state: State, audience: str) -> dict[str, Any]:
    return await verify_access_token(
        _bearer(request),
        audience=audience,
        issuer=state[ISSUER_STATE_KEY],
        keys=state[JWKS_STATE_KEY],
    )


def _int_claim(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise TokenInvalid() from None


async def provide_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    claims = await _claims(request, state, USER_AUDIENCE)
    amr = claims["amr"]
    return CurrentUser(
        user_id=_int_claim(claims["sub"]),
        username=str(claims["username"]),
        session_id=str(claims["sid"]),
        amr=tuple(str(method) for method in amr) if isinstance(amr, list) else (),
        mfa=bool(claims["mfa"]),
    )


async def provide_current_admin(request: Request[Any, Any, Any], state: State) -> CurrentAdmin:
    claims = await _claims(request, state, ADMIN_AUDIENCE)
    return CurrentAdmin(admin_id=_int_claim(claims["sub"]), username=str(claims["username"]))


def auth_lifespan(
    settings: Settings, jwks_fetch: JwksFetch | None = None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Owns the JWKS provider (and its HTTP client) on `app.state`. `jwks_fetch` replaces the
    HTTP fetch (tests hand in their own key set)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state[ISSUER_STATE_KEY] = settings.feature_jwt_issuer
        if jwks_fetch is not None:
            app.state[JWKS_STATE_KEY] = JwksProvider(jwks_fetch)
            yield
            return
        timeout = httpx.Timeout(settings.feature_internal_timeout_seconds, connect=2.0)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            app.state[JWKS_STATE_KEY] = JwksProvider(
                http_jwks_fetch(client, settings.jwks_url), clock=time.monotonic
            )
            yield

    return lifespan
