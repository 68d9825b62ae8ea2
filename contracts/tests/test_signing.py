from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from signature_vectors import CREATED, KEYS, render

from alephdraad_contracts import (
    SIGNATURE_TEST_VECTORS,
    CallerKey,
    KeyRing,
    MemoryNonceStore,
    NonceStore,
    RejectionReason,
    SignatureRejected,
    VerifiedCaller,
    load_signature_test_vectors,
    sign_request,
    verify_signed_request,
)

VECTORS = load_signature_test_vectors()
RING = KeyRing(
    CallerKey(keyid=k["keyid"], caller=k["caller"], secret=bytes.fromhex(k["secret_hex"]))
    for k in VECTORS["keys"]
)
SECRET = bytes.fromhex(KEYS[0]["secret_hex"])
NOW = datetime.fromtimestamp(CREATED, tz=UTC)


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _signed(**overrides: Any) -> httpx.Request:
    request = httpx.Request(
        "POST",
        "http://core/internal/v1/lookup?x=1",
        headers={"X-Request-ID": "rid-1"},
        content=b'{"a":1}',
    )
    kwargs: dict[str, Any] = {
        "caller": "feature-service",
        "keyid": "feature-2026-01",
        "secret": SECRET,
        "now": NOW,
    }
    return sign_request(request, **(kwargs | overrides))


def _verify(
    request: httpx.Request,
    *,
    store: NonceStore | None = None,
    now: datetime = NOW,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    url: str | None = None,
) -> VerifiedCaller:
    return verify_signed_request(
        request.method,
        str(request.url) if url is None else url,
        dict(request.headers) if headers is None else headers,
        request.content if body is None else body,
        keys=RING,
        nonce_store=MemoryNonceStore() if store is None else store,
        now=now,
    )


def _reason(request: httpx.Request, **kwargs: Any) -> RejectionReason:
    with pytest.raises(SignatureRejected) as info:
        _verify(request, **kwargs)
    return info.value.reason


# --- published vectors ---------------------------------------------------------------------


def test_committed_vectors_match_the_builder() -> None:
    assert SIGNATURE_TEST_VECTORS.read_text(encoding="utf-8") == render()


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_vector_signing_is_exact(case: dict[str, Any]) -> None:
    request = httpx.Request(
        case["method"], case["url"], headers=case["headers"], content=case["body"].encode()
    )
    sign_request(
        request,
        caller=case["caller"],
        keyid=case["keyid"],
        secret=bytes.fromhex(
            next(k for k in VECTORS["keys"] if k["keyid"] == case["keyid"])["secret_hex"]
        ),
        now=_at(case["created"]),
        nonce=case["nonce"],
    )
    for name, value in case["expected"].items():
        assert request.headers[name] == value


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_vector_verification_and_replay(case: dict[str, Any]) -> None:
    headers = case["headers"] | case["expected"]
    store = MemoryNonceStore()

    def verify() -> VerifiedCaller:
        return verify_signed_request(
            case["method"],
            case["url"],
            headers,
            case["body"].encode(),
            keys=RING,
            nonce_store=store,
            now=_at(case["verify_at"]),
        )

    assert verify() == VerifiedCaller(
        caller=case["caller"],
        keyid=case["keyid"],
        nonce=case["nonce"],
        created=_at(case["created"]),
    )
    with pytest.raises(SignatureRejected) as info:
        verify()
    assert info.value.reason is RejectionReason.REPLAYED_NONCE


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_vector_rejections(case: dict[str, Any]) -> None:
    with pytest.raises(SignatureRejected) as info:
        verify_signed_request(
            case["method"],
            case["url"],
            case["headers"],
            case["body"].encode(),
            keys=RING,
            nonce_store=MemoryNonceStore(),
            now=_at(case["verify_at"]),
        )
    assert info.value.reason == case["reason"]


def test_every_reason_except_local_ones_has_a_vector() -> None:
    covered = {case["reason"] for case in VECTORS["invalid"]}
    local = {"malformed_signature", "missing_header", "replayed_nonce"}
    assert covered | local == {reason.value for reason in RejectionReason}


# --- signing ---------------------------------------------------------------------------------


def test_round_trip_with_path_and_query_and_default_time() -> None:
    request = _signed(now=None)
    result = _verify(request, now=datetime.now(UTC), url="/internal/v1/lookup?x=1")
    assert result.caller == "feature-service"
    assert result.keyid == "feature-2026-01"
    assert len(result.nonce) == 32


def test_path_without_leading_slash_and_lowercase_method() -> None:
    request = _signed()
    result = verify_signed_request(
        "post",
        "internal/v1/lookup?x=1",
        dict(request.headers),
        request.content,
        keys=RING,
        nonce_store=MemoryNonceStore(),
        now=NOW,
    )
    assert result.caller == "feature-service"


def test_sign_replaces_an_existing_digest_and_keeps_empty_body_digest() -> None:
    request = httpx.Request(
        "GET", "http://core/x", headers={"X-Request-ID": "r", "Content-Digest": "sha-256=:AA==:"}
    )
    sign_request(request, caller="feature-service", keyid="feature-2026-01", secret=SECRET)
    assert (
        request.headers["content-digest"]
        == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    )


def test_sign_requires_request_id() -> None:
    request = httpx.Request("GET", "http://core/x")
    with pytest.raises(ValueError, match="X-Request-ID"):
        sign_request(request, caller="feature-service", keyid="k", secret=SECRET)


@pytest.mark.parametrize("nonce", ["short", "x" * 129, "has space" * 5])
def test_sign_refuses_weak_nonces(nonce: str) -> None:
    with pytest.raises(ValueError, match="nonce"):
        _signed(nonce=nonce)


def test_sign_refuses_bad_caller_names() -> None:
    with pytest.raises(ValueError, match="caller"):
        _signed(caller="Feature Service")


def test_nonces_are_random() -> None:
    first, second = _signed(), _signed()
    assert first.headers["signature-input"] != second.headers["signature-input"]


# --- keys ------------------------------------------------------------------------------------


def test_key_ring_parse_and_rotation() -> None:
    hex_a, hex_b = "aa" * 32, "bb" * 32
    ring = KeyRing.parse(f"feature-service:f1:{hex_a}, feature-service:f2:{hex_b}")
    assert len(ring) == 2
    assert [k.keyid for k in ring] == ["f1", "f2"]
    assert ring.get("f2") == CallerKey(keyid="f2", caller="feature-service", secret=b"\xbb" * 32)
    assert ring.get("nope") is None
    assert "secret" not in repr(ring.get("f1")).replace("secret=", "")


def test_both_keys_verify_during_rotation() -> None:
    old = _verify(_signed(keyid="feature-2026-01"))
    new = _verify(_signed(keyid="feature-2026-02", secret=bytes.fromhex(KEYS[1]["secret_hex"])))
    assert (old.keyid, new.keyid) == ("feature-2026-01", "feature-2026-02")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("feature-service:f1", "caller:keyid:hexsecret"),
        ("feature-service:f1:abcd", "shorter than 32 bytes"),
        ("Feature:f1:" + "aa" * 32, "caller"),
        ("feature-service:bad id:" + "aa" * 32, "key id"),
        ("feature-service:f1:" + "aa" * 32 + ",core-service:f1:" + "bb" * 32, "duplicate"),
    ],
)
def test_key_ring_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeyRing.parse(spec)


# --- rejections ------------------------------------------------------------------------------


def test_missing_caller_or_request_id_header() -> None:
    request = _signed()
    headers = {k: v for k, v in request.headers.items() if k != "x-alephdraad-caller"}
    assert _reason(request, headers=headers) is RejectionReason.MISSING_HEADER


def test_half_a_signature_is_missing() -> None:
    request = _signed()
    headers = {k: v for k, v in request.headers.items() if k != "signature"}
    assert _reason(request, headers=headers) is RejectionReason.MISSING_SIGNATURE


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"x-alephdraad-caller")', ")"),  # caller not covered
        ('"@query"', '"@query";req'),  # parameters on a component
        (';alg="hmac-sha256"', ""),  # alg missing
        (';alg="hmac-sha256"', ';alg="hmac-sha512"'),  # alg wrong
        (";created=", ";expires=1;created="),  # extra parameter
    ],
)
def test_malformed_signature_input(old: str, new: str) -> None:
    request = _signed()
    headers = dict(request.headers)
    assert old in headers["signature-input"]
    headers["signature-input"] = headers["signature-input"].replace(old, new)
    assert _reason(request, headers=headers) is RejectionReason.MALFORMED_SIGNATURE


def test_malformed_nonce_and_created_and_syntax() -> None:
    request = _signed(nonce="n" * 22)
    headers = dict(request.headers)
    short = headers | {"signature-input": headers["signature-input"].replace("n" * 22, "n" * 21)}
    assert _reason(request, headers=short) is RejectionReason.MALFORMED_SIGNATURE
    created = f"created={CREATED}"
    huge = headers | {
        "signature-input": headers["signature-input"].replace(created, "created=999999999999999")
    }
    assert _reason(request, headers=huge) is RejectionReason.MALFORMED_SIGNATURE
    broken = headers | {"signature-input": "alephdraad=(("}
    assert _reason(request, headers=broken) is RejectionReason.MALFORMED_SIGNATURE


def test_tampered_covered_values_fail_the_signature() -> None:
    request = _signed()
    assert (
        _reason(request, url="http://core/internal/v1/lookup?x=2") is RejectionReason.BAD_SIGNATURE
    )
    headers = dict(request.headers) | {"x-request-id": "rid-2"}
    assert _reason(request, headers=headers) is RejectionReason.BAD_SIGNATURE


def test_window_edges() -> None:
    request = _signed()
    assert _verify(request, now=NOW + timedelta(seconds=60)).created == NOW
    assert _reason(request, now=NOW + timedelta(seconds=61)) is RejectionReason.STALE
    assert _verify(request, now=NOW - timedelta(seconds=60)).created == NOW
    assert _reason(request, now=NOW - timedelta(seconds=61)) is RejectionReason.CREATED_IN_FUTURE


def test_rejected_request_does_not_burn_its_nonce() -> None:
    request = _signed()
    store = MemoryNonceStore()
    assert _reason(request, store=store, body=b"tampered") is RejectionReason.DIGEST_MISMATCH
    assert _verify(request, store=store).nonce
    assert _reason(request, store=store) is RejectionReason.REPLAYED_NONCE


def test_memory_nonce_store_records_the_window() -> None:
    store = MemoryNonceStore()
    assert isinstance(store, NonceStore)
    result = _verify(_signed(), store=store)
    assert store.expiries == {result.nonce: NOW + timedelta(seconds=60)}
    assert not store.remember(result.nonce, NOW)


def test_rejection_message() -> None:
    assert str(SignatureRejected(RejectionReason.STALE)) == "stale"
    assert str(SignatureRejected(RejectionReason.STALE, "old")) == "stale: old"
