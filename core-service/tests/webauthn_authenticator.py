"""A software WebAuthn authenticator and client for the passkey tests.

It plays both the authenticator (an ES256 P-256 key per credential, authenticatorData with
the UP/UV/BE/BS/AT flags, attested credential data, `none` attestation, a signature counter)
and the browser (clientDataJSON with type, challenge and origin; the JSON forms
RegistrationResponseJSON and AuthenticationResponseJSON, binary members base64url). It reads
the options JSON the server sends, exactly as a browser's parseCreationOptionsFromJSON would.

Everything a test may want to get wrong is a parameter: origin, RP id, flags, counter
behaviour, user handle; `tamper_*` helpers spoil a finished response.

soft-webauthn does not fit (it pins fido2 < 2 and thus cryptography < 45, see NOTES.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# authenticatorData flags (WebAuthn section 6.1).
FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40

# COSE (RFC 9053): EC2 key type, ES256, curve P-256.
COSE_KTY_EC2 = 2
COSE_ALG_ES256 = -7
COSE_CRV_P256 = 1

# A made-up authenticator model.
TEST_AAGUID = bytes.fromhex("a11ce0000000400080000000000000a1")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Counter(Enum):
    """How the signature counter behaves from one assertion to the next."""

    INCREASE = "increase"  # +1 per assertion, like a security key
    ZERO = "zero"  # always 0, like a synced passkey
    REGRESS = "regress"  # -1 per assertion (a cloned key would look like this)


@dataclass
class StoredCredential:
    """A resident credential held by the authenticator."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    user_name: str
    sign_count: int

    @property
    def id_b64(self) -> str:
        return b64url(self.credential_id)


def cose_public_key(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = private_key.public_key().public_numbers()
    return cbor2.dumps(
        {
            1: COSE_KTY_EC2,
            3: COSE_ALG_ES256,
            -1: COSE_CRV_P256,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )


def _flags(*, up: bool, uv: bool, be: bool, bs: bool, at: bool = False) -> int:
    return (
        (FLAG_UP if up else 0)
        | (FLAG_UV if uv else 0)
        | (FLAG_BE if be else 0)
        | (FLAG_BS if bs else 0)
        | (FLAG_AT if at else 0)
    )


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


@dataclass
class SoftwareAuthenticator:
    """A platform authenticator with resident keys, driven through its client.

    `origin` is what the "browser" writes into clientDataJSON; `rp_id` overrides the RP id the
    options name (for wrong-RP tests). `counter` picks the counter behaviour; `start_count`
    is the counter a new credential begins with.
    """

    origin: str
    rp_id: str | None = None
    user_present: bool = True
    user_verified: bool = True
    backup_eligible: bool = True
    backup_state: bool = True
    counter: Counter = Counter.INCREASE
    start_count: int = 0
    transports: tuple[str, ...] = ("hybrid", "internal")
    credentials: list[StoredCredential] = field(default_factory=list)

    # Registration: navigator.credentials.create()

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        reuse: StoredCredential | None = None,
    ) -> dict[str, Any]:
        """Make a resident credential for the creation options; return the
        RegistrationResponseJSON a browser would.

        `reuse` attests an existing credential (its id and key) again, ignoring
        excludeCredentials, as a broken or malicious client could.
        """
        rp_id = self.rp_id or options["rp"]["id"]
        excluded = {entry["id"] for entry in options.get("excludeCredentials", [])}
        if reuse is None and any(stored.id_b64 in excluded for stored in self.credentials):
            raise ExcludedCredentialError("the authenticator already holds an excluded credential")
        assert any(param["alg"] == COSE_ALG_ES256 for param in options["pubKeyCredParams"])

        private_key = reuse.private_key if reuse else ec.generate_private_key(ec.SECP256R1())
        credential_id = reuse.credential_id if reuse else os.urandom(32)
        user_handle = b64url_decode(options["user"]["id"])
        stored = StoredCredential(
            credential_id=credential_id,
            private_key=private_key,
            rp_id=rp_id,
            user_handle=user_handle,
            user_name=options["user"]["name"],
            sign_count=self.start_count,
        )
        # A resident key replaces the one this authenticator held for the same account.
        self.credentials = [
            held
            for held in self.credentials
            if not (held.rp_id == rp_id and held.user_handle == user_handle)
        ]
        self.credentials.append(stored)

        attested = (
            TEST_AAGUID
            + struct.pack(">H", len(credential_id))
            + credential_id
            + cose_public_key(private_key)
        )
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(at=True)])
            + struct.pack(">I", stored.sign_count)
            + attested
        )
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin or self.origin)
        return {
            "id": stored.id_b64,
            "rawId": stored.id_b64,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation_object),
                "transports": list(self.transports),
            },
        }

    # Authentication: navigator.credentials.get()

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: StoredCredential | None = None,
        origin: str | None = None,
        sign_count: int | None = None,
        include_user_handle: bool = True,
    ) -> dict[str, Any]:
        """Sign an assertion for the request options; return the AuthenticationResponseJSON.

        The credential is `credential`, else the first of allowCredentials this authenticator
        holds, else (discoverable) the newest one it holds for the RP id.
        """
        rp_id = self.rp_id or options["rpId"]
        stored = credential or self._pick(options, rp_id)
        stored.sign_count = (
            self._next_count(stored.sign_count) if sign_count is None else sign_count
        )
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", stored.sign_count)
        )
        client_data = _client_data("webauthn.get", options["challenge"], origin or self.origin)
        signature = stored.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if include_user_handle:
            response["userHandle"] = b64url(stored.user_handle)
        return {
            "id": stored.id_b64,
            "rawId": stored.id_b64,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        }

    def _pick(self, options: dict[str, Any], rp_id: str) -> StoredCredential:
        allowed = [entry["id"] for entry in options.get("allowCredentials", [])]
        held = [stored for stored in self.credentials if stored.rp_id == rp_id]
        if allowed:
            held = [stored for stored in held if stored.id_b64 in allowed]
        if not held:
            raise NoCredentialError("no credential for this request")
        return held[-1]

    def _next_count(self, current: int) -> int:
        if self.counter is Counter.ZERO:
            return 0
        if self.counter is Counter.REGRESS:
            return max(0, current - 1)
        return current + 1

    def _flags(self, *, at: bool = False) -> int:
        return _flags(
            up=self.user_present,
            uv=self.user_verified,
            be=self.backup_eligible,
            bs=self.backup_state,
            at=at,
        )


class ExcludedCredentialError(Exception):
    """What a browser reports as InvalidStateError."""


class NoCredentialError(Exception):
    """What a browser reports as NotAllowedError when no credential matches."""


# Spoiling a finished response


def tamper_signature(response: dict[str, Any]) -> dict[str, Any]:
    """Flip one bit of the signature's last byte (the DER stays well-formed)."""
    signature = bytearray(b64url_decode(response["response"]["signature"]))
    signature[-1] ^= 0x01
    return _with_response(response, signature=b64url(bytes(signature)))


def tamper_client_data(response: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Rewrite clientDataJSON after the authenticator signed over its hash."""
    client_data = json.loads(b64url_decode(response["response"]["clientDataJSON"]))
    client_data.update(changes)
    encoded = json.dumps(client_data, separators=(",", ":")).encode()
    return _with_response(response, clientDataJSON=b64url(encoded))


def tamper_authenticator_data(response: dict[str, Any], *, sign_count: int) -> dict[str, Any]:
    """Change the counter in authenticatorData after signing."""
    data = bytearray(b64url_decode(response["response"]["authenticatorData"]))
    data[33:37] = struct.pack(">I", sign_count)
    return _with_response(response, authenticatorData=b64url(bytes(data)))


def _with_response(response: dict[str, Any], **members: str) -> dict[str, Any]:
    return {**response, "response": {**response["response"], **members}}
