"""`manage.py create_admin`: operator accounts live in their own table (DESIGN section 4)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

from alephdraad_core.admins.models import Admin
from alephdraad_core.security.models import SecurityEvent
from tests.admins_helpers import ADMIN_PASSWORD, make_admin

pytestmark = pytest.mark.django_db


def _create(password: str, *, email: str = "Ops@Example.com", username: str = "ops_lead") -> str:
    out = io.StringIO()
    call_command(
        "create_admin",
        "--email",
        email,
        "--username",
        username,
        "--password-stdin",
        stdin=io.StringIO(f"{password}\n"),
        stdout=out,
    )
    return out.getvalue()


def test_creates_an_active_admin_with_an_argon2_hash() -> None:
    output = _create(ADMIN_PASSWORD)

    admin = Admin.objects.get()
    assert output.strip() == f"created admin {admin.pk} (ops_lead <ops@example.com>)"
    assert admin.email == "ops@example.com"  # normalised
    assert admin.username == "ops_lead"
    assert admin.is_active
    assert admin.last_login_at is None
    assert admin.password_hash.startswith("argon2$argon2id$")
    assert ADMIN_PASSWORD not in admin.password_hash
    assert check_password(ADMIN_PASSWORD, admin.password_hash)


def test_asvs_16_3_3_admin_creation_is_a_security_event() -> None:
    _create(ADMIN_PASSWORD)

    admin = Admin.objects.get()
    event = SecurityEvent.objects.get()
    assert event.event_type == "admin_created"
    assert event.admin_id == admin.pk
    assert event.user_id is None
    assert event.details == {"via": "manage.py create_admin"}


@pytest.mark.parametrize("email", ["ops@example.com", "OPS@EXAMPLE.COM", " ops@example.com "])
def test_duplicate_email_is_refused_case_insensitively(email: str) -> None:
    make_admin("first_admin", email="Ops@Example.com")

    with pytest.raises(CommandError, match=r"admin with the email ops@example\.com already exists"):
        _create(ADMIN_PASSWORD, email=email, username="second_admin")

    assert Admin.objects.count() == 1
    assert not SecurityEvent.objects.exists()


def test_duplicate_username_is_refused() -> None:
    make_admin("ops_lead", email="first@ops.example.com")

    with pytest.raises(CommandError, match="admin named ops_lead already exists"):
        _create(ADMIN_PASSWORD, email="second@ops.example.com", username="ops_lead")

    assert Admin.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "at least 12 characters"),  # 11: enough for a user, not an admin
        ("password1234", "too common"),
        ("ops_lead_admin", "too similar"),
        ("x" * 129, "At most 128 characters"),
    ],
)
def test_asvs_6_2_weak_admin_password_is_refused(password: str, message: str) -> None:
    with pytest.raises(CommandError, match=message) as error:
        _create(password)

    assert "password:" in str(error.value)
    assert not Admin.objects.exists()


@pytest.mark.parametrize(
    ("email", "username", "field"),
    [("not-an-email", "ops_lead", "email"), ("ops@example.com", "Ops Lead!", "username")],
)
def test_bad_email_or_username_is_refused(email: str, username: str, field: str) -> None:
    with pytest.raises(CommandError, match=f"{field}:"):
        _create(ADMIN_PASSWORD, email=email, username=username)

    assert not Admin.objects.exists()


def test_long_passwords_with_spaces_are_kept_verbatim() -> None:
    password = "  a passphrase with spaces at both ends  "

    _create(password)

    assert check_password(password, Admin.objects.get().password_hash)


def test_empty_stdin_is_refused() -> None:
    with pytest.raises(CommandError, match="no password on standard input"):
        call_command(
            "create_admin",
            "--email",
            "ops@example.com",
            "--username",
            "ops_lead",
            "--password-stdin",
            stdin=io.StringIO(""),
        )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _prompted(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> Any:
    replies = iter(answers)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(replies))
    return call_command(
        "create_admin",
        "--email",
        "ops@example.com",
        "--username",
        "ops_lead",
        stdin=_Terminal(),
        stdout=io.StringIO(),
    )


def test_interactive_prompt_asks_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    _prompted(monkeypatch, [ADMIN_PASSWORD, ADMIN_PASSWORD])

    assert check_password(ADMIN_PASSWORD, Admin.objects.get().password_hash)


def test_interactive_prompt_refuses_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="do not match"):
        _prompted(monkeypatch, [ADMIN_PASSWORD, ADMIN_PASSWORD + "x"])

    assert not Admin.objects.exists()


def test_without_a_terminal_the_password_must_come_from_stdin() -> None:
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command(
            "create_admin",
            "--email",
            "ops@example.com",
            "--username",
            "ops_lead",
            stdin=io.StringIO(f"{ADMIN_PASSWORD}\n"),
        )

    assert not Admin.objects.exists()
