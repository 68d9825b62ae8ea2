"""Members' and admins' access tokens, verified locally against core's published keys."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from auth_support import KEY, SigningKey, StaticJwks, admin_token, bearer, user_token
from litestar import get
from litestar.di import NamedDependency
from support import MakeClient, assert_problem

from alephdraad_contracts import UNAUTHENTICATED, UPSTREAM_UNAVAILABLE
from alephdraad_feature.auth.dependencies import CurrentAdmin, CurrentUser
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.auth.jwks import JwksProvider, parse_jwks


@get("/test/whoami", sync_to_thread=False)
def whoami(current_user: NamedDependency[CurrentUser]) -> dict[str, Any]:
    return {
        "user_id": current_user.user_id,
        "username": current_user.username,
        "session_id": current_user.session_id,
        "amr": list(current_user.amr),
        "mfa": current_user.mfa,
    }


@get("/test/admin", sync_to_thread=False)
def admin_only(current_admin: NamedDependency[CurrentAdmin]) -> dict[str, Any]:
    return {"admin_id": current_admin.admin_id, "username": current_admin.username}


ROUTES = [whoami, admin_only]
INVALID = TokenInvalid.problem_type


async def test_a_members_token_names_the_member(make_client: MakeClient) -> None:
    async with make_client(ROUTES) as client:
        response = await client.get("/test/whoami", headers=bearer(user_token(7, "budi")))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": 7,
        "username": "budi",
        "session_id": "5b0e7d0e-0000-4000-8000-000000000001",
        "amr": ["pwd"],
        "mfa": False,
    }


async def test_an_admin_token_names_the_admin(make_client: MakeClient) -> None:
    async with make_client(ROUTES) as client:
        response = await client.get("/test/admin", headers=bearer(admin_token(3, "ops")))
    assert response.json() == {"admin_id": 3, "username": "ops"}


async def test_no_token_is_401_unauthenticated_with_a_challenge(make_client: MakeClient) -> None:
    async with make_client(ROUTES) as client:
        response = await client.get("/test/whoami")
    assert_problem(response, UNAUTHENTICATED)
    assert response.headers["www-authenticate"].startswith("Bearer")


def _none_alg(claims_from: str) -> str:
    payload = claims_from.split(".")[1]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": KEY.kid}).encode())
    return f"{header.rstrip(b'=').decode()}.{payload}."


def _hs256_with_public_key() -> str:
    token = user_token(7, "budi")
    claims = jwt.decode(token, options={"verify_signature": False})
    public = KEY.jwk()["x"].encode()
    return jwt.encode(claims, public, algorithm="HS256", headers={"kid": KEY.kid})


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
        ("empty bearer", {"Authorization": "Bearer "}),
        ("garbage", bearer("not-a-jwt")),
        ("expired", bearer(user_token(7, "budi", lifetime=-60))),
        ("admin token on a member route", bearer(admin_token(3))),
        ("another issuer", bearer(user_token(7, "budi", iss="urn:someone:else"))),
        ("a key core does not publish", bearer(user_token(7, "budi", key=SigningKey("rogue")))),
        ("a forged key with a known kid", bearer(user_token(7, "budi", key=SigningKey(KEY.kid)))),
        ("alg none", bearer(_none_alg(user_token(7, "budi")))),
        ("HS256 signed with the public key", bearer(_hs256_with_public_key())),
        ("no session id", bearer(user_token(7, "budi", sid=None))),
        ("a subject that is not an id", bearer(user_token(7, "budi", sub="seven"))),
    ],
)
async def test_bad_tokens_are_401_auth_token_invalid(
    make_client: MakeClient, case: str, headers: dict[str, str]
) -> None:
    async with make_client(ROUTES) as client:
        response = await client.get("/test/whoami", headers=headers)
    body = assert_problem(response, INVALID)
    assert "invalid_token" in response.headers["www-authenticate"] or case == "basic scheme"
    assert body["code"] == "AUTH_TOKEN_INVALID"


async def test_a_member_token_on_an_admin_route_is_refused(make_client: MakeClient) -> None:
    async with make_client(ROUTES) as client:
        response = await client.get("/test/admin", headers=bearer(user_token(7, "budi")))
    assert_problem(response, INVALID)


async def test_a_rotated_in_key_is_fetched_and_made_up_kids_do_not_hammer_core() -> None:
    jwks = StaticJwks(KEY)
    now = [0.0]
    provider = JwksProvider(jwks, clock=lambda: now[0], min_refetch_seconds=5)
    assert await provider.key(KEY.kid) is not None
    new_key = SigningKey("rotated-in")
    jwks.keys.append(new_key)
    now[0] = 6.0
    assert await provider.key(new_key.kid) is not None
    assert jwks.fetches == 2
    # A burst of unknown kids: at most one fetch per min_refetch_seconds.
    for step in range(12):
        now[0] = 6.0 + step * 0.5
        assert await provider.key(f"bogus-{step}") is None
    assert jwks.fetches == 3


async def test_a_rotated_in_key_verifies_through_the_app(make_client: MakeClient) -> None:
    new_key = SigningKey("rotated-in")
    jwks = StaticJwks(KEY, new_key)
    async with make_client(ROUTES, jwks_fetch=jwks) as client:
        old = await client.get("/test/whoami", headers=bearer(user_token(1, "a")))
        new = await client.get("/test/whoami", headers=bearer(user_token(1, "a", key=new_key)))
    assert (old.status_code, new.status_code) == (200, 200)
    assert jwks.fetches == 1


async def test_core_unreachable_before_any_key_is_known_is_503(make_client: MakeClient) -> None:
    jwks = StaticJwks(KEY)
    jwks.fail = True
    async with make_client(ROUTES, jwks_fetch=jwks) as client:
        response = await client.get("/test/whoami", headers=bearer(user_token(1, "a")))
    assert_problem(response, UPSTREAM_UNAVAILABLE)
    assert response.headers["retry-after"] == "5"


async def test_known_keys_keep_working_while_core_is_unreachable() -> None:
    jwks = StaticJwks(KEY)
    now = [0.0]
    provider = JwksProvider(jwks, clock=lambda: now[0], refresh_seconds=600)
    assert await provider.key(KEY.kid) is not None
    jwks.fail = True
    now[0] = 601.0  # due for a refresh, which fails
    assert await provider.key(KEY.kid) is not None
    assert jwks.fetches == 2
    jwks.fail = False
    now[0] = 700.0  # a failed refresh was an attempt: retried after MIN_REFETCH_SECONDS
    assert await provider.key(KEY.kid) is not None
    assert jwks.fetches == 3


def test_only_ed25519_signing_keys_are_taken_from_a_jwks() -> None:
    good = KEY.jwk()
    keys = parse_jwks(
        {
            "keys": [
                good,
                {**good, "kid": "rsa", "kty": "RSA"},
                {**good, "kid": "enc", "use": "enc"},
                {**good, "kid": "bad-x", "x": "AAAA"},
                {**good, "kid": 5},
                "not an object",
            ]
        }
    )
    assert list(keys) == [KEY.kid]
    with pytest.raises(ValueError, match="keys"):
        parse_jwks({"nope": []})
