"""`manage.py jwt_keys init|rotate|show` and what a rotation means for tokens and the JWKS
(ASVS 5.0 V11: key rotation without breaking tokens already issued)."""

from __future__ import annotations

import base64
import io
import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from alephdraad_core.authn.api import JWKS_MAX_AGE_S
from alephdraad_core.authn.keys import (
    RETIRED_KEY_PUBLISH_SECONDS,
    dump_key_set,
    keyring,
    new_key_entry,
    parse_key_set,
    rotated_entries,
    write_key_file,
)
from alephdraad_core.authn.tokens import (
    USER_AUDIENCE,
    InvalidToken,
    decode_token,
    issue_user_token,
)
from tests.foundation_support import key_file

__all__ = ["key_file"]  # fixture used by name below

JWKS_URL = "/.well-known/jwks.json"


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("jwt_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _kids(path: Path) -> list[tuple[str, bool]]:
    """(kid, retired?) of each key in a key-set file, in file order."""
    return [(e["kid"], e["retired_at"] is not None) for e in json.loads(path.read_text())["keys"]]


def _b64json(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _token(user_id: int = 7) -> str:
    return issue_user_token(
        user_id=user_id, username="mira", session_id="s-1", amr=["pwd"], mfa=False
    ).token


def test_asvs_11_init_creates_an_owner_only_key_file_once(tmp_path: Path, settings: Any) -> None:
    settings.JWT_KEYS_FILE = None
    path = tmp_path / "keys" / "jwt.json"

    out, _ = _run("init", "--file", str(path))

    assert out.strip() == f"created {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [(kid, retired)] = _kids(path)
    assert not retired
    assert parse_key_set(path.read_text(), "test").active.kid == kid
    content = path.read_bytes()

    out, _ = _run("init", "--file", str(path))

    assert out.strip() == f"{path} exists; nothing to do"
    assert path.read_bytes() == content


def test_init_without_a_file_is_refused(settings: Any) -> None:
    settings.JWT_KEYS_FILE = None
    with pytest.raises(CommandError, match="give --file or set CORE_JWT_KEYS_FILE"):
        _run("init")


def test_rotate_without_a_key_set_is_refused(tmp_path: Path, settings: Any) -> None:
    settings.JWT_KEYS_FILE = str(tmp_path / "missing.json")
    settings.JWT_KEYS = None
    with pytest.raises(CommandError, match="run `jwt_keys init` first"):
        _run("rotate")


def test_asvs_11_rotation_changes_the_signing_key_and_old_tokens_still_verify(
    key_file: Path, client: Client
) -> None:
    [(old_kid, _)] = _kids(key_file)
    assert keyring().active.kid == old_kid
    before = _token(user_id=41)

    out, _ = _run("rotate")

    [(retired_kid, retired), (new_kid, new_retired)] = _kids(key_file)
    assert (retired_kid, retired, new_retired) == (old_kid, True, False)
    assert new_kid != old_kid
    assert out.strip() == f"rotated {key_file}; new signing key {new_kid}"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keyring().active.kid == new_kid

    # A token issued before the rotation still verifies; new ones carry the new kid.
    assert decode_token(before, audience=USER_AUDIENCE)["sub"] == "41"
    after = _token(user_id=42)
    assert json.loads(_b64json(after.split(".")[0]))["kid"] == new_kid
    assert decode_token(after, audience=USER_AUDIENCE)["sub"] == "42"

    response = client.get(JWKS_URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == f"public, max-age={JWKS_MAX_AGE_S}"
    assert sorted(jwk["kid"] for jwk in response.json()["keys"]) == sorted([old_kid, new_kid])
    assert all("d" not in jwk for jwk in response.json()["keys"])


def test_asvs_11_a_key_retired_past_the_publication_window_no_longer_verifies(
    key_file: Path, client: Client
) -> None:
    [(old_kid, _)] = _kids(key_file)
    signed_with_old_key = _token()
    long_ago = timezone.now() - timedelta(seconds=RETIRED_KEY_PUBLISH_SECONDS + 1)
    # As if the rotation happened long ago: the old key is retired and out of the JWKS.
    entries = rotated_entries(json.loads(key_file.read_text())["keys"], long_ago)
    write_key_file(key_file, entries)

    with pytest.raises(InvalidToken, match="unknown key id"):
        decode_token(signed_with_old_key, audience=USER_AUDIENCE)
    assert [jwk["kid"] for jwk in client.get(JWKS_URL).json()["keys"]] == [entries[-1]["kid"]]
    assert old_kid != entries[-1]["kid"]

    # The next rotation prunes it from the file as well.
    _run("rotate")
    assert old_kid not in {kid for kid, _ in _kids(key_file)}


def test_rotate_names_the_new_key_of_the_file_it_rotated(key_file: Path, tmp_path: Path) -> None:
    # --file points at another key set than the one the service reads (e.g. preparing one).
    other = tmp_path / "other.json"
    write_key_file(other, [new_key_entry()])
    serving_kid = keyring().active.kid

    out, _ = _run("rotate", "--file", str(other))

    [(_, retired), (new_kid, _)] = _kids(other)
    assert retired
    assert out.strip() == f"rotated {other}; new signing key {new_kid}"
    assert keyring().active.kid == serving_kid  # the service's own set is untouched


def test_asvs_11_rotate_with_keys_in_the_environment_prints_the_new_set(
    settings: Any,
) -> None:
    env_entry = new_key_entry()
    settings.JWT_KEYS = dump_key_set([env_entry])
    settings.JWT_KEYS_FILE = None

    out, err = _run("rotate")

    ring = parse_key_set(out, "stdout")
    assert [(key.kid, key.retired_at is not None) for key in ring.keys] == [
        (env_entry["kid"], True),
        (ring.active.kid, False),
    ]
    assert ring.active.kid != env_entry["kid"]
    assert "CORE_JWT_KEYS" in err


def test_asvs_11_rotate_acts_on_the_key_set_in_use_when_both_sources_are_set(
    key_file: Path, settings: Any
) -> None:
    # CORE_JWT_KEYS wins over CORE_JWT_KEYS_FILE for signing, so it is the set to rotate:
    # rewriting the unused file would report a rotation that changed nothing.
    env_entry = new_key_entry()
    settings.JWT_KEYS = dump_key_set([env_entry])
    assert keyring().active.kid == env_entry["kid"]
    file_content = key_file.read_bytes()

    out, err = _run("rotate")

    assert key_file.read_bytes() == file_content
    ring = parse_key_set(out, "stdout")
    assert [key.kid for key in ring.keys if key.retired_at is not None] == [env_entry["kid"]]
    assert "CORE_JWT_KEYS" in err


def test_show_lists_each_key_and_marks_the_signing_one(key_file: Path) -> None:
    [(first_kid, _)] = _kids(key_file)
    _run("rotate")
    [_, (second_kid, _)] = _kids(key_file)

    out, _ = _run("show")

    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(first_kid)
    assert "retired 20" in lines[0]
    assert not lines[0].endswith("(signing)")
    assert lines[1].startswith(second_kid)
    assert "retired -" in lines[1]
    assert lines[1].endswith("(signing)")
