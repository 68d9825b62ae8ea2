"""RFC 9421 HTTP Message Signatures for internal calls (DESIGN section 5).

Canonicalisation, HMAC and Content-Digest (RFC 9530) come from `http-message-signatures`;
this module fixes the policy both services share: what is covered, which parameters are
required, which key belongs to which caller, the 60 s window and nonce replay defence.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from ._request_id import REQUEST_ID_HEADER

SIGNATURE_CALLER_HEADER = "X-Alephdraad-Caller"
SIGNATURE_LABEL = "alephdraad"
SIGNATURE_ALGORITHM = "hmac-sha256"
SIGNATURE_MAX_AGE = timedelta(seconds=60)
# Every signature covers exactly these components, in this order.
SIGNATURE_COVERED_COMPONENTS: tuple[str, ...] = (
    "@method",
    "@path",
    "@query",
    "content-digest",
    "x-request-id",
    "x-alephdraad-caller",
)
SIGNATURE_TEST_VECTORS = Path(__file__).parent / "test_vectors" / "http-signatures.json"

_CALLER_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_KEYID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# token_urlsafe(24) gives 32 characters (192 bits); 22 characters is the 128-bit floor.
_NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
_MIN_SECRET_BYTES = 32
_HEADERS_NEEDED = ("x-request-id", "x-alephdraad-caller")


class RejectionReason(StrEnum):
    """Why `verify_signed_request` refused a request. Receivers log it and send it in the 401's
    `reason` member: only services reach an internal listener, and the reason is what their
    operators need to fix clock skew or a key rotation."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    MISSING_HEADER = "missing_header"
    MISSING_DIGEST = "missing_digest"
    UNKNOWN_KEYID = "unknown_keyid"
    WRONG_CALLER = "wrong_caller"
    STALE = "stale"
    CREATED_IN_FUTURE = "created_in_future"
    BAD_SIGNATURE = "bad_signature"
    DIGEST_MISMATCH = "digest_mismatch"
    REPLAYED_NONCE = "replayed_nonce"


class SignatureRejected(Exception):
    """The one exception a receiver maps to 401 problem+json."""

    def __init__(self, reason: RejectionReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CallerKey:
    """One shared HMAC secret, named by `keyid`, that only `caller` may sign with."""

    keyid: str
    caller: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEYID_PATTERN.fullmatch(self.keyid):
            raise ValueError(f"not a key id: {self.keyid!r}")
        _check_caller(self.caller)
        if len(self.secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"secret for {self.keyid!r} is shorter than {_MIN_SECRET_BYTES} bytes")


class KeyRing:
    """The keys a receiver accepts: keyid -> (caller, secret). Keep two per caller to rotate."""

    def __init__(self, keys: Iterable[CallerKey]) -> None:
        self._keys: dict[str, CallerKey] = {}
        for key in keys:
            if key.keyid in self._keys:
                raise ValueError(f"duplicate key id: {key.keyid!r}")
            self._keys[key.keyid] = key

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Read `caller:keyid:hexsecret[,caller:keyid:hexsecret…]` (an environment value)."""
        keys = []
        for entry in spec.split(","):
            parts = entry.strip().split(":")
            if len(parts) != 3:
                raise ValueError("expected caller:keyid:hexsecret entries separated by commas")
            caller, keyid, secret_hex = parts
            keys.append(CallerKey(keyid=keyid, caller=caller, secret=bytes.fromhex(secret_hex)))
        return cls(keys)

    def get(self, keyid: str) -> CallerKey | None:
        return self._keys.get(keyid)

    def __iter__(self) -> Iterator[CallerKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True)
class VerifiedCaller:
    """What a verified request proves: who sent it, with which key, when, under which nonce."""

    caller: str
    keyid: str
    nonce: str
    created: datetime


@runtime_checkable
class NonceStore(Protocol):
    """Remembers nonces until they expire; implemented in each receiver's own database."""

    def remember(self, nonce: str, expires_at: datetime) -> bool:
        """Store `nonce` until `expires_at`; False when it is already stored (a replay)."""
        ...


class MemoryNonceStore:
    """A process-local NonceStore for tests. Not for production: replicas do not share it, a
    restart forgets every nonce, and it never forgets one (it records `expires_at` in
    `expiries` for tests to inspect instead of reading a clock). Receivers store nonces with
    a TTL in their own database."""

    def __init__(self) -> None:
        self.expiries: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def remember(self, nonce: str, expires_at: datetime) -> bool:
        with self._lock:
            if nonce in self.expiries:
                return False
            self.expiries[nonce] = expires_at
            return True


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _check_caller(caller: str) -> None:
    if not _CALLER_PATTERN.fullmatch(caller):
        raise ValueError(f"not a caller name: {caller!r}")


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, keyid: str, secret: bytes) -> None:
        self._keyid = keyid
        self._secret = secret

    def resolve_private_key(self, key_id: str) -> bytes:
        assert key_id == self._keyid
        return self._secret


def sign_request(
    request: httpx.Request,
    *,
    caller: str,
    keyid: str,
    secret: bytes,
    now: datetime | None = None,
    nonce: str | None = None,
) -> httpx.Request:
    """Sign `request` in place (and return it): sets X-Alephdraad-Caller, Content-Digest,
    Signature-Input and Signature. X-Request-ID must already be set. Reads the body."""
    _check_caller(caller)
    if REQUEST_ID_HEADER not in request.headers:
        raise ValueError(f"{REQUEST_ID_HEADER} must be set before signing")
    nonce = new_nonce() if nonce is None else nonce
    if not _NONCE_PATTERN.fullmatch(nonce):
        raise ValueError("nonce must be 22-128 URL-safe base64 characters (at least 128 bits)")
    body = request.read()
    request.headers[SIGNATURE_CALLER_HEADER] = caller
    request.headers.pop("Content-Digest", None)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_OneKey(keyid, secret)
    )
    signer.sign(
        request,
        key_id=keyid,
        created=datetime.now(UTC) if now is None else now,
        nonce=nonce,
        label=SIGNATURE_LABEL,
        covered_component_ids=SIGNATURE_COVERED_COMPONENTS,
        body=body,
    )
    return request


@dataclass
class _Message:
    method: str
    url: str
    headers: dict[str, str]


class _Rejection(InvalidSignature):
    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _PolicyVerifier(HTTPMessageVerifier):
    """The library verifier with our own parameter policy in its pre-verification hook.

    The hook runs before the library resolves the key and checks the HMAC, so any
    InvalidSignature raised after it (not a `_Rejection`) is a failed signature."""

    def __init__(self, *, keys: KeyRing, caller: str, now: datetime, max_age: timedelta) -> None:
        super().__init__(
            signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_RingResolver(keys)
        )
        self.keys = keys
        self.caller = caller
        self.now = now
        self.max_age = max_age
        self.params: dict[str, Any] | None = None

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        params = dict(sig_input.params)
        covered = tuple(str(item.value) for item in sig_input)
        if covered != SIGNATURE_COVERED_COMPONENTS or any(item.params for item in sig_input):
            raise _Rejection(RejectionReason.MALFORMED_SIGNATURE, "covered components differ")
        if set(params) != {"created", "nonce", "keyid", "alg"}:
            raise _Rejection(
                RejectionReason.MALFORMED_SIGNATURE, "needs exactly created, nonce, keyid, alg"
            )
        if params["alg"] != SIGNATURE_ALGORITHM:
            raise _Rejection(RejectionReason.MALFORMED_SIGNATURE, "alg must be hmac-sha256")
        if not _NONCE_PATTERN.fullmatch(params["nonce"]):
            raise _Rejection(RejectionReason.MALFORMED_SIGNATURE, "nonce too short or malformed")
        key = self.keys.get(params["keyid"])
        if key is None:
            raise _Rejection(RejectionReason.UNKNOWN_KEYID, f"unknown keyid {params['keyid']!r}")
        if key.caller != self.caller:
            raise _Rejection(RejectionReason.WRONG_CALLER, f"keyid belongs to {key.caller!r}")
        try:
            created = datetime.fromtimestamp(params["created"], tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise _Rejection(RejectionReason.MALFORMED_SIGNATURE, "created out of range") from exc
        if created < self.now - self.max_age:
            raise _Rejection(RejectionReason.STALE, "created is too old")
        if created > self.now + self.max_age:
            raise _Rejection(RejectionReason.CREATED_IN_FUTURE, "created is in the future")
        self.params = params | {"created": created}


class _RingResolver(HTTPSignatureKeyResolver):
    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def resolve_public_key(self, key_id: str) -> bytes:
        key = self._keys.get(key_id)
        assert key is not None  # the policy hook rejected unknown key ids already
        return key.secret


def _absolute(url: str) -> str:
    # Only @path and @query are covered; the authority is a placeholder when given a path.
    return url if "://" in url else "http://internal" + (url if url.startswith("/") else "/" + url)


def verify_signed_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    keys: KeyRing,
    nonce_store: NonceStore,
    now: datetime | None = None,
    max_age: timedelta = SIGNATURE_MAX_AGE,
) -> VerifiedCaller:
    """Check a received request; return who sent it or raise `SignatureRejected`.

    `url` is the absolute URL or the path with its query string as received (e.g. Django's
    `request.get_full_path()`), `headers` any case-insensitive or plain mapping, `body` the
    raw bytes. The nonce is remembered only once everything else holds."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if "signature" not in lowered or "signature-input" not in lowered:
        raise SignatureRejected(RejectionReason.MISSING_SIGNATURE)
    if "content-digest" not in lowered:
        raise SignatureRejected(RejectionReason.MISSING_DIGEST)
    for name in _HEADERS_NEEDED:
        if name not in lowered:
            raise SignatureRejected(RejectionReason.MISSING_HEADER, name)
    message = _Message(method=method.upper(), url=_absolute(url), headers=lowered)
    verifier = _PolicyVerifier(
        keys=keys,
        caller=lowered["x-alephdraad-caller"],
        now=datetime.now(UTC) if now is None else now,
        max_age=max_age,
    )
    try:
        results = verifier.verify(message, max_age=None)
    except _Rejection as exc:
        raise SignatureRejected(exc.reason, exc.detail) from exc
    except InvalidSignature as exc:
        reason = (
            RejectionReason.MALFORMED_SIGNATURE
            if verifier.params is None
            else RejectionReason.BAD_SIGNATURE
        )
        raise SignatureRejected(reason, str(exc)) from exc
    try:
        verifier.verify_body(message, results, body)
    except InvalidSignature as exc:
        raise SignatureRejected(RejectionReason.DIGEST_MISMATCH, str(exc)) from exc
    params = verifier.params
    assert params is not None
    created: datetime = params["created"]
    if not nonce_store.remember(params["nonce"], created + max_age):
        raise SignatureRejected(RejectionReason.REPLAYED_NONCE)
    return VerifiedCaller(
        caller=verifier.caller, keyid=params["keyid"], nonce=params["nonce"], created=created
    )


def load_signature_test_vectors() -> dict[str, Any]:
    """The published vectors (`SIGNATURE_TEST_VECTORS`) both services' tests check against."""
    loaded: dict[str, Any] = json.loads(SIGNATURE_TEST_VECTORS.read_text(encoding="utf-8"))
    return loaded
