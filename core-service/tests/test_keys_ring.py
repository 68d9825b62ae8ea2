"""The access-token signing keys (authn/keys.py): identifiers, parsing, rotation, publication
and reloading (ASVS 5.0 V11: cryptographic key management; V11.2 approved algorithms only)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from alephdraad_core.authn.keys import (
    RETIRED_KEY_PUBLISH_SECONDS,
    clear_keyring_cache,
    dump_key_set,
    keyring,
    new_key_entry,
    parse_key_set,
    rotated_entries,
    thumbprint,
    write_key_file,
)
from alephdraad_core.authn.tokens import USER_AUDIENCE, decode_token, issue_user_token
from tests.foundation_support import key_file

__all__ = ["key_file"]  # fixture used by name below

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HORIZON = timedelta(seconds=RETIRED_KEY_PUBLISH_SECONDS)
SOURCE = "CORE_JWT_KEYS_FILE /etc/alephdraad/jwt.json"

# RFC 8037 appendix A.1-A.3: an Ed25519 key and its RFC 7638 thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pem(private_key: Any) -> str:
    pem: bytes = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _entry(created: datetime, retired: datetime | None = None) -> dict[str, Any]:
    entry = new_key_entry(created)
    entry["retired_at"] = _iso(retired) if retired else None
    return entry


def _document(*entries: dict[str, Any]) -> str:
    return json.dumps({"keys": list(entries)})


# ---- kid: RFC 7638 thumbprint ---------------------------------------------------------------


def test_asvs_11_thumbprint_matches_the_rfc_8037_example() -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(_unb64(RFC8037_D))
    public_raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert public_raw == _unb64(RFC8037_X)

    assert thumbprint(private_key.public_key()) == RFC8037_THUMBPRINT


def test_asvs_11_kid_is_the_thumbprint_of_the_published_jwk() -> None:
    entry = new_key_entry(NOW)
    [jwk] = parse_key_set(_document(entry), SOURCE).jwks(NOW)["keys"]

    # RFC 7638 section 3: the required members only, lexicographic order, no whitespace.
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    assert canonical.startswith('{"crv":"Ed25519","kty":"OKP","x":"')
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert jwk["kid"] == entry["kid"] == expected.rstrip(b"=").decode()
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": jwk["x"],
        "kid": entry["kid"],
        "use": "sig",
        "alg": "EdDSA",
    }
    assert len(_unb64(jwk["x"])) == 32  # the raw public key, nothing private


# ---- parsing --------------------------------------------------------------------------------


def test_a_key_set_parses_and_the_newest_unretired_key_signs() -> None:
    older = _entry(NOW - timedelta(days=2))
    newer = _entry(NOW - timedelta(days=1))
    retired = _entry(NOW, retired=NOW)  # newest of all, but retired
    no_kid = _entry(NOW - timedelta(days=3))
    del no_kid["kid"]

    ring = parse_key_set(_document(older, retired, newer, no_kid), SOURCE)

    assert ring.active.kid == newer["kid"]
    assert [key.kid for key in ring.keys][:3] == [older["kid"], retired["kid"], newer["kid"]]
    assert ring.keys[3].kid == new_kid_of(no_kid)
    assert ring.keys[1].retired_at == NOW
    assert ring.keys[0].created_at == NOW - timedelta(days=2)


def new_kid_of(entry: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(entry["private_key"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return thumbprint(key.public_key())


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("bad JSON", "{not json", "Expecting property name"),
        ("no keys member", "{}", "'keys'"),
        ("keys not a list", '{"keys": 7}', "not iterable"),
        (
            "RSA key",
            _document(
                {
                    "private_key": _pem(rsa.generate_private_key(65537, 2048)),
                    "created_at": _iso(NOW),
                }
            ),
            "only Ed25519 keys are accepted",
        ),
        (
            "P-256 key",
            _document(
                {
                    "private_key": _pem(ec.generate_private_key(ec.SECP256R1())),
                    "created_at": _iso(NOW),
                }
            ),
            "only Ed25519 keys are accepted",
        ),
        ("not a PEM key", _document({"private_key": "nope", "created_at": _iso(NOW)}), "key"),
        (
            "wrong kid",
            _document({**new_key_entry(NOW), "kid": "not-the-thumbprint"}),
            "'not-the-thumbprint' does not match its key",
        ),
        (
            "bad timestamp",
            _document({**new_key_entry(NOW), "created_at": "yesterday"}),
            "isoformat",
        ),
        (
            "timestamp of the wrong type",
            _document({**new_key_entry(NOW), "created_at": 1764072000}),
            "",
        ),
        ("private key of the wrong type", _document({"private_key": 42}), ""),
        (
            "timestamp without a time zone",
            _document(
                new_key_entry(NOW),
                {**new_key_entry(NOW), "retired_at": "2026-11-25T11:00:00"},
            ),
            "has no time zone",
        ),
        ("no keys at all", '{"keys": []}', "no active"),
        ("every key retired", _document(_entry(NOW, retired=NOW)), "no active"),
    ],
)
def test_asvs_11_an_unusable_key_set_is_refused_naming_its_source(
    name: str, raw: str, reason: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_key_set(raw, SOURCE)

    message = str(caught.value)
    assert message.startswith(f"{SOURCE} is not a valid JWT key set"), (name, message)
    assert reason in message, (name, message)


# ---- rotation and publication ---------------------------------------------------------------


def test_asvs_11_rotation_retires_the_signing_key_adds_one_and_prunes_expired_ones() -> None:
    long_gone = _entry(NOW - timedelta(days=3), retired=NOW - HORIZON - timedelta(seconds=1))
    just_gone = _entry(NOW - timedelta(days=2), retired=NOW - HORIZON)  # boundary: pruned
    recent = _entry(NOW - timedelta(days=1), retired=NOW - HORIZON + timedelta(seconds=1))
    active = _entry(NOW - timedelta(hours=1))
    entries = [long_gone, just_gone, recent, active]
    snapshot = json.dumps(entries)

    rotated = rotated_entries(entries, NOW)

    assert json.dumps(entries) == snapshot  # the input is left as it was
    assert [entry["kid"] for entry in rotated[:2]] == [recent["kid"], active["kid"]]
    assert rotated[0] == recent
    assert rotated[1] == {**active, "retired_at": _iso(NOW)}
    new = rotated[2]
    assert new["kid"] not in {e["kid"] for e in entries}
    assert (new["created_at"], new["retired_at"]) == (_iso(NOW), None)

    ring = parse_key_set(dump_key_set(rotated), SOURCE)
    assert ring.active.kid == new["kid"]
    assert {jwk["kid"] for jwk in ring.jwks(NOW)["keys"]} == {
        recent["kid"],
        active["kid"],
        new["kid"],
    }


def test_asvs_11_a_retired_key_is_published_until_no_token_it_signed_can_be_valid() -> None:
    old = _entry(NOW - timedelta(days=1), retired=NOW - HORIZON)
    recent = _entry(NOW - timedelta(hours=2), retired=NOW - timedelta(minutes=1))
    active = _entry(NOW - timedelta(minutes=1))
    ring = parse_key_set(_document(old, recent, active), SOURCE)

    assert [key.kid for key in ring.published(NOW)] == [recent["kid"], active["kid"]]
    assert [jwk["kid"] for jwk in ring.jwks(NOW)["keys"]] == [recent["kid"], active["kid"]]
    assert ring.find(recent["kid"], NOW) is not None
    assert ring.find(old["kid"], NOW) is None

    later = NOW - timedelta(minutes=1) + HORIZON
    assert [jwk["kid"] for jwk in ring.jwks(later)["keys"]] == [active["kid"]]
    assert ring.find(recent["kid"], later) is None
    assert ring.find(active["kid"], later) is not None


# ---- the key file ---------------------------------------------------------------------------


def test_asvs_11_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "jwt.json"
    previous = os.umask(0)  # even a process that would create world-writable files
    try:
        write_key_file(path, [new_key_entry()])
        first = path.read_text()
        write_key_file(path, [new_key_entry()])  # an overwrite, too
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() != first
    assert (
        parse_key_set(path.read_text(), "test").active.kid
        == json.loads(path.read_text())["keys"][0]["kid"]
    )
    assert [p.name for p in path.parent.iterdir()] == ["jwt.json"]  # no temporary file left


# ---- the process-wide keyring ---------------------------------------------------------------


def test_the_keyring_is_cached_and_re_read_when_its_file_changes(key_file: Path) -> None:
    first = keyring()
    assert keyring() is first  # unchanged file: not parsed again
    replacement = new_key_entry()

    write_key_file(key_file, [replacement])

    assert keyring() is not first
    assert keyring().active.kid == replacement["kid"]


def test_a_rewritten_key_file_is_re_read_even_when_its_mtime_did_not_move(
    key_file: Path,
) -> None:
    # Filesystems with coarse timestamps give two writes within one clock tick the same mtime.
    before = key_file.stat()
    assert keyring().active.kid == json.loads(key_file.read_text())["keys"][0]["kid"]
    replacement = new_key_entry()

    write_key_file(key_file, [replacement])
    os.utime(key_file, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert key_file.stat().st_mtime_ns == before.st_mtime_ns
    assert keyring().active.kid == replacement["kid"]


def test_a_missing_key_file_is_a_configuration_error_naming_it(
    key_file: Path,
) -> None:
    key_file.unlink()
    clear_keyring_cache()

    with pytest.raises(ImproperlyConfigured, match=f"CORE_JWT_KEYS_FILE {key_file} cannot be read"):
        keyring()


def test_asvs_11_keys_from_core_jwt_keys_take_precedence_over_the_file(
    key_file: Path, settings: Any
) -> None:
    file_kid = keyring().active.kid
    from_env = new_key_entry()
    settings.JWT_KEYS = dump_key_set([from_env])

    assert keyring().active.kid == from_env["kid"] != file_kid
    token = issue_user_token(user_id=7, username="mira", session_id="s1", amr=["pwd"], mfa=False)
    assert json.loads(_unb64(token.token.split(".")[0]))["kid"] == from_env["kid"]
    assert decode_token(token.token, audience=USER_AUDIENCE)["sub"] == "7"

    settings.JWT_KEYS = "{broken"
    with pytest.raises(ImproperlyConfigured, match=r"^CORE_JWT_KEYS is not a valid JWT key set"):
        keyring()
