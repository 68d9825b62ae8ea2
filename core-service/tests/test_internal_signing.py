"""The internal listener refuses every request that is not freshly signed by a known caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.request import Request

from alephdraad_contracts import KeyRing, VerifiedCaller, signed_client
from alephdraad_core.config import CoreConfig
from alephdraad_core.internal.authentication import ServiceCaller, SignedServiceAuthentication
from alephdraad_core.internal.errors import SignatureRejectedError
from alephdraad_core.internal.models import SignatureNonce
from alephdraad_core.internal.nonces import PostgresNonceStore, purge_expired_nonces
from alephdraad_core.openapi import render_openapi_document
from tests.conftest import assert_problem
from tests.content_helpers import make_member, user_token
from tests.internal_support import (
    ACCEPT_SPEC,
    CALLER,
    INTERNAL,
    KEYID,
    OTHER_KEYID,
    SECRET,
    VECTORS,
    accept_feature_keys,
    call,
    signed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _accept_feature_keys(settings: Any) -> None:
    accept_feature_keys(settings)


LOOKUP = f"{INTERNAL}/lookup"


def _rejected(response: Any, reason: str) -> dict[str, Any]:
    body = assert_problem(response, 401, "SIGNATURE_REJECTED")
    assert response["WWW-Authenticate"] == "Signature"
    assert body["reason"] == reason
    assert reason in body["detail"]
    return body


# --- the published vectors, through this receiver's authentication class ----------------------


def _vector_request(vector: dict[str, Any], headers: dict[str, str]) -> Request:
    url = httpx.URL(vector["url"])
    path = url.raw_path.decode()
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name.lower() != "content-type"
    }
    django_request = RequestFactory().generic(
        vector["method"],
        path,
        data=vector["body"].encode(),
        content_type=headers.get("Content-Type", headers.get("content-type", "")),
        **extra,
    )
    return Request(django_request)


def _frozen_at(monkeypatch: pytest.MonkeyPatch, timestamp: int) -> None:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    monkeypatch.setattr(SignedServiceAuthentication, "clock", staticmethod(lambda: moment))


def _vector_keys(settings: Any) -> None:
    settings.INTERNAL_ACCEPT_KEYS = KeyRing.parse(
        ",".join(f"{k['caller']}:{k['keyid']}:{k['secret_hex']}" for k in VECTORS["keys"])
    )


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda vector: vector["name"])
def test_valid_vectors_authenticate_once_then_are_replays(
    vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    _vector_keys(settings)
    _frozen_at(monkeypatch, vector["created"])
    headers = {**vector["headers"], **vector["expected"]}

    user, auth = SignedServiceAuthentication().authenticate(_vector_request(vector, headers))

    assert user == ServiceCaller(name=vector["caller"], keyid=vector["keyid"])
    assert isinstance(auth, VerifiedCaller)
    assert auth.nonce == vector["nonce"]
    stored = SignatureNonce.objects.get(nonce=vector["nonce"])
    assert stored.expires_at == datetime.fromtimestamp(vector["created"] + 60, tz=UTC)
    with pytest.raises(SignatureRejectedError) as replay:
        SignedServiceAuthentication().authenticate(_vector_request(vector, headers))
    assert replay.value.extensions == {"reason": "replayed_nonce"}


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda vector: vector["name"])
def test_invalid_vectors_are_rejected_for_their_reason(
    vector: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    _vector_keys(settings)
    _frozen_at(monkeypatch, vector["verify_at"])

    with pytest.raises(SignatureRejectedError) as rejected:
        SignedServiceAuthentication().authenticate(_vector_request(vector, vector["headers"]))

    assert rejected.value.extensions == {"reason": vector["reason"]}
    assert not SignatureNonce.objects.exists()


# --- through the Django test client -----------------------------------------------------------


def test_a_signed_lookup_is_accepted(client: Client) -> None:
    response = call(client, "POST", LOOKUP, {"user_ids": [1]})
    assert response.status_code == 200, response.content


def test_the_second_key_of_a_rotation_is_accepted_too(client: Client) -> None:
    secret = bytes.fromhex(ACCEPT_SPEC.split(",")[1].split(":")[2])
    response = call(client, "POST", LOOKUP, {}, keyid=OTHER_KEYID, secret=secret)
    assert response.status_code == 200, response.content


def test_an_unsigned_request_is_refused(client: Client) -> None:
    response = client.post(LOOKUP, {"user_ids": [1]}, content_type="application/json")
    _rejected(response, "missing_signature")


def test_a_user_access_token_is_no_way_in(client: Client) -> None:
    token = user_token(make_member())
    response = client.get(
        f"{INTERNAL}/sessions/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {token}"},
    )
    _rejected(response, "missing_signature")


def test_a_body_altered_after_signing_is_refused(client: Client) -> None:
    response = call(client, "POST", LOOKUP, {"user_ids": [1]}, send_body=b'{"user_ids":[2]}')
    _rejected(response, "digest_mismatch")
    assert not SignatureNonce.objects.exists()


def test_a_wrong_key_is_refused(client: Client) -> None:
    response = call(client, "POST", LOOKUP, {}, secret=b"x" * 32)
    _rejected(response, "bad_signature")


def test_an_unknown_keyid_is_refused(client: Client) -> None:
    response = call(client, "POST", LOOKUP, {}, keyid="feature-2099-01")
    _rejected(response, "unknown_keyid")


def test_a_key_of_another_caller_is_refused(client: Client) -> None:
    response = call(client, "POST", LOOKUP, {}, caller="stranger-service")
    _rejected(response, "wrong_caller")


def test_a_signature_61_seconds_old_is_stale(client: Client) -> None:
    response = call(client, "POST", LOOKUP, {}, now=timezone.now() - timedelta(seconds=61))
    _rejected(response, "stale")


def test_a_reused_nonce_is_a_replay(client: Client) -> None:
    nonce = "cmV1c2VkLW5vbmNlLWZvci10ZXN0cw"
    first = call(client, "POST", LOOKUP, {"user_ids": [1]}, nonce=nonce)
    assert first.status_code == 200
    again = call(client, "POST", LOOKUP, {"user_ids": [1]}, nonce=nonce)
    _rejected(again, "replayed_nonce")


def test_the_signed_path_and_query_are_what_is_checked(client: Client) -> None:
    headers = signed("GET", f"{INTERNAL}/sessions/abc?fresh=1")
    response = client.get(f"{INTERNAL}/sessions/abc?fresh=2", headers=headers)
    _rejected(response, "bad_signature")


def test_no_key_configured_refuses_every_call(client: Client, settings: Any) -> None:
    settings.INTERNAL_ACCEPT_KEYS = KeyRing([])
    response = call(client, "POST", LOOKUP, {})
    _rejected(response, "unknown_keyid")


def test_internal_routes_are_not_in_the_public_document() -> None:
    document = render_openapi_document()
    assert "/internal/" not in document


# --- the nonce store --------------------------------------------------------------------------


def test_the_nonce_store_remembers_each_nonce_once() -> None:
    store = PostgresNonceStore()
    expires = timezone.now() + timedelta(seconds=60)
    assert store.remember("n" * 32, expires) is True
    assert store.remember("n" * 32, expires) is False
    assert store.remember("m" * 32, expires) is True


def test_expired_nonces_are_purged_and_live_ones_kept() -> None:
    now = timezone.now()
    store = PostgresNonceStore()
    store.remember("old" * 10, now - timedelta(seconds=1))
    store.remember("now" * 10, now)
    store.remember("live" * 10, now + timedelta(seconds=1))
    assert purge_expired_nonces(now) == 2
    assert list(SignatureNonce.objects.values_list("nonce", flat=True)) == ["live" * 10]


# --- configuration ----------------------------------------------------------------------------


def test_the_key_ring_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_INTERNAL_ACCEPT_KEYS", ACCEPT_SPEC)
    ring = CoreConfig().internal_key_ring()
    assert {key.keyid for key in ring} == {KEYID, OTHER_KEYID}
    monkeypatch.setenv("CORE_INTERNAL_ACCEPT_KEYS", "")
    assert len(CoreConfig().internal_key_ring()) == 0


@pytest.mark.parametrize(
    "spec",
    [
        "feature-service:k1",
        f"feature-service:k1:{'00' * 8}",
        "feature-service:k1:zz",
        f"Feature Service:k1:{SECRET.hex()}",
    ],
)
def test_a_malformed_key_ring_names_the_variable(
    spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from alephdraad_core.config import load_config

    monkeypatch.setenv("CORE_INTERNAL_ACCEPT_KEYS", spec)
    with pytest.raises(ImproperlyConfigured) as error:
        load_config()
    assert "CORE_INTERNAL_ACCEPT_KEYS" in str(error.value)
    assert SECRET.hex() not in str(error.value)


# --- through real HTTP ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_replayed_request_is_refused_over_real_http(live_server: Any) -> None:
    user = make_member("over_http")
    with signed_client(live_server.url, caller=CALLER, keyid=KEYID, secret=SECRET) as peer:
        response = peer.post(LOOKUP, json={"user_ids": [user.pk]})
    assert response.status_code == 200, response.text
    assert response.json()["users"][str(user.pk)]["username"] == "over_http"

    sent = response.request
    replay = httpx.post(str(sent.url), headers=sent.headers, content=sent.content)

    assert replay.status_code == 401
    assert replay.headers["Content-Type"] == "application/problem+json"
    assert replay.headers["WWW-Authenticate"] == "Signature"
    assert replay.json()["code"] == "SIGNATURE_REJECTED"
    assert replay.json()["reason"] == "replayed_nonce"
