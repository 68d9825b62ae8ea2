"""DELETE /api/v1/me: the feature service is asked first, then one transaction turns the account
into an anonymous tombstone, erases everything personal and publishes user.deleted. Every
refusal leaves everything as it was; afterwards nothing of the account works or shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from alephdraad_contracts import USER_DELETED
from alephdraad_core.accounts.models import EmailVerificationToken, PasswordResetToken, User
from alephdraad_core.accounts.services import do_delete_account
from alephdraad_core.authn.errors import InvalidCredentials
from alephdraad_core.authn.models import RefreshToken, Session
from alephdraad_core.authn.services import check_may_open_session
from alephdraad_core.badges.models import UserBadge
from alephdraad_core.content.models import Thread
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.mfa.models import BackupCode, MfaLoginToken
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.passkeys.models import Credential, WebAuthnChallenge, WebAuthnUserHandle
from alephdraad_core.security.limits import ACCOUNT_DELETE_PER_USER
from alephdraad_core.security.models import SecurityEvent
from alephdraad_core.sudo.models import SudoGrant
from alephdraad_core.sudo.services import SUDO_HEADER, do_grant_sudo
from tests.accounts_helpers import PASSWORD, make_user, outbox, post_json, token_in
from tests.admins_helpers import admin_token, make_admin, next_ip
from tests.admins_helpers import post_json as admin_post
from tests.badges_support import award, make_badge
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, error_fields
from tests.content_helpers import make_thread
from tests.feature_stub import FeatureStub
from tests.internal_support import INTERNAL, accept_feature_keys, call
from tests.passkeys_support import (
    authenticator,
    begin_login,
    configure_relying_party,
    finish_login,
    grant_sudo,
    register_passkey,
)
from tests.passkeys_support import signed_in as passkeys_signed_in

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
CONFIRM = {"confirmation": "DELETE"}
MIRA_EMAIL = "mira@example.com"


def check_path(user_id: int) -> str:
    return f"/internal/v1/users/{user_id}/deletion-check"


@dataclass
class Member:
    """A member signed in through the real login, with a sudo grant on that session."""

    user: User
    access_token: str
    refresh_token: str
    session: Session
    sudo_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", SUDO_HEADER: self.sudo_token}


def _login(client: Client, login: str, password: str = PASSWORD) -> Any:
    return post_json(
        client,
        "/api/v1/auth/login",
        {"login": login, "password": password},
        **{"X-Real-IP": next_ip()},
    )


def _sign_in(client: Client, user: User) -> Member:
    response = _login(client, user.email)
    assert response.status_code == 200, response.content
    tokens = response.json()
    session = Session.objects.get(user=user)
    request = RequestFactory().post("/api/v1/auth/sudo", REMOTE_ADDR="127.0.0.1")
    sudo = do_grant_sudo(request, session=session, method="pwd")
    return Member(user, tokens["access_token"], tokens["refresh_token"], session, sudo.token)


@pytest.fixture
def mira(client: Client) -> Member:
    return _sign_in(client, make_user(email=MIRA_EMAIL, username="mira"))


def delete_me(client: Client, member: Member, body: Any = CONFIRM, **headers: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.generic(
        "DELETE",
        ME,
        data,
        content_type="application/json",
        headers={**member.headers, **headers},
    )


def allow_deletion(stub: FeatureStub, user: User) -> None:
    stub.respond("GET", check_path(user.pk), 200, {"can_delete": True, "blocking_reasons": []})


def give_everything(member: Member) -> dict[str, Any]:
    """Every kind of personal row an account can have, and some it keeps (a thread, mail that
    was sent). Returns the objects the tests look at afterwards."""
    user = member.user
    now = timezone.now()
    later = now + timedelta(hours=1)
    User.objects.filter(pk=user.pk).update(
        full_name="Mira Castellan",
        avatar_url="https://img.example/mira.png",
        totp_enabled=True,
        totp_secret="legacy",
        username_changed_at=now,
    )
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    BackupCode.objects.create(user=user, code_hash="a" * 64)
    MfaLoginToken.objects.create(user=user, token_hash="b" * 64, expires_at=later)
    WebAuthnUserHandle.objects.create(user=user, handle=b"h" * 64)
    Credential.objects.create(
        user=user,
        credential_id=b"cred-1",
        public_key=b"key",
        attestation_type="none",
        name="Laptop",
        user_handle=b"h" * 64,
    )
    WebAuthnChallenge.objects.create(
        purpose=WebAuthnChallenge.Purpose.LOGIN, challenge=b"c", user=user, expires_at=later
    )
    EmailVerificationToken.objects.create(user=user, token="c" * 64, expires_at=later)
    badge = make_badge("Early bird")
    award(user, badge, primary=True)
    enqueue_mail(kind="verify_email", to=user.email, subject="Verify", body="link")
    sent = enqueue_mail(kind="welcome", to=user.email, subject="Hi", body="hello")
    OutgoingMail.objects.filter(pk=sent.pk).update(status=OutgoingMail.Status.SENT)
    other_mail = enqueue_mail(kind="verify_email", to="omar@example.com", subject="V", body="l")
    thread = make_thread(user, title="Mira's thread")
    return {"thread": thread, "sent_mail": sent, "other_mail": other_mail}


def personal_rows(user_id: int) -> dict[str, int]:
    return {
        "sessions": Session.objects.filter(user_id=user_id).count(),
        "refresh_tokens": RefreshToken.objects.filter(session__user_id=user_id).count(),
        "sudo_grants": SudoGrant.objects.filter(session__user_id=user_id).count(),
        "totp_devices": TOTPDevice.objects.filter(user_id=user_id).count(),
        "backup_codes": BackupCode.objects.filter(user_id=user_id).count(),
        "mfa_login_tokens": MfaLoginToken.objects.filter(user_id=user_id).count(),
        "passkeys": Credential.objects.filter(user_id=user_id).count(),
        "webauthn_user_handles": WebAuthnUserHandle.objects.filter(user_id=user_id).count(),
        "webauthn_challenges": WebAuthnChallenge.objects.filter(user_id=user_id).count(),
        "email_verification_tokens": EmailVerificationToken.objects.filter(user_id=user_id).count(),
        "password_reset_tokens": PasswordResetToken.objects.filter(user_id=user_id).count(),
        "user_badges": UserBadge.objects.filter(user_id=user_id).count(),
    }


def snapshot(member: Member) -> tuple[dict[str, Any], dict[str, int], int, int]:
    """The account row, its personal rows, and the outbox and pending-mail counts."""
    row = User.objects.filter(pk=member.user.pk).values().get()
    return (
        row,
        personal_rows(member.user.pk),
        OutboxEvent.objects.count(),
        OutgoingMail.objects.filter(status=OutgoingMail.Status.PENDING).count(),
    )


# --- the deletion ------------------------------------------------------------------------------


def test_the_account_becomes_an_anonymous_tombstone(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    kept = give_everything(mira)
    allow_deletion(feature_stub, mira.user)
    user_id = mira.user.pk

    response = delete_me(client, mira)

    assert response.status_code == 204, response.content
    assert response.content == b""
    [asked] = feature_stub.requests_to("GET", check_path(user_id))
    assert asked.headers["X-Request-ID"] == response["X-Request-ID"]

    tombstone = User.objects.get(pk=user_id)
    assert tombstone.username == f"deleted-{user_id}"
    assert tombstone.email == f"deleted+{user_id}@invalid"
    assert (tombstone.full_name, tombstone.avatar_url) == ("", None)
    assert not tombstone.has_usable_password()
    assert (tombstone.is_verified, tombstone.is_locked, tombstone.locked_reason) == (
        False,
        False,
        "",
    )
    assert (tombstone.totp_enabled, tombstone.totp_secret) == (False, None)
    assert (tombstone.username_changed_at, tombstone.last_login) == (None, None)
    assert tombstone.deleted_at is not None
    assert tombstone.created_at == mira.user.created_at

    assert personal_rows(user_id) == dict.fromkeys(personal_rows(user_id), 0)
    assert not OutgoingMail.objects.filter(to_address=MIRA_EMAIL, status="pending").exists()
    # Kept: the thread (its author is the tombstone), mail already sent, other people's mail.
    thread = Thread.objects.get(pk=kept["thread"].pk)
    assert (thread.author_id, thread.is_deleted) == (user_id, False)
    assert OutgoingMail.objects.filter(pk=kept["sent_mail"].pk).exists()
    assert OutgoingMail.objects.filter(pk=kept["other_mail"].pk).exists()

    [audit] = SecurityEvent.objects.filter(event_type="account_deleted")
    assert audit.user_id == user_id
    assert audit.details["erased"] == {
        "sessions": 1,
        "totp_devices": 1,
        "backup_codes": 1,
        "mfa_login_tokens": 1,
        "passkeys": 1,
        "webauthn_user_handles": 1,
        "webauthn_challenges": 1,
        "email_verification_tokens": 1,
        "password_reset_tokens": 0,
        "user_badges": 1,
        "pending_mail": 1,
    }
    [event] = OutboxEvent.objects.filter(type=USER_DELETED)
    assert event.envelope["data"] == {"user_id": user_id}
    assert OutboxEvent.objects.count() == 1


def test_deleting_a_second_time_is_impossible_and_harmless(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    allow_deletion(feature_stub, mira.user)
    assert delete_me(client, mira).status_code == 204

    # The token's session is gone with the account.
    assert_problem(delete_me(client, mira), 401, "AUTH_SESSION_REVOKED")
    # A request that had passed authentication just before finds the tombstone: no second
    # anonymisation, no second event.
    request = RequestFactory().delete(ME, REMOTE_ADDR="127.0.0.1")
    assert do_delete_account(mira.user, request=request) is False
    assert OutboxEvent.objects.filter(type=USER_DELETED).count() == 1
    assert SecurityEvent.objects.filter(event_type="account_deleted").count() == 1


# --- afterwards: nothing of the account works or shows -----------------------------------------


@pytest.fixture
def deleted_mira(client: Client, mira: Member, feature_stub: FeatureStub) -> Member:
    allow_deletion(feature_stub, mira.user)
    assert delete_me(client, mira).status_code == 204
    return mira


def test_the_old_tokens_are_refused(client: Client, deleted_mira: Member) -> None:
    me = client.get(ME, headers={"Authorization": f"Bearer {deleted_mira.access_token}"})
    assert_problem(me, 401, "AUTH_SESSION_REVOKED")
    refresh = post_json(
        client,
        "/api/v1/auth/refresh",
        {"refresh_token": deleted_mira.refresh_token},
        **{"X-Real-IP": next_ip()},
    )
    assert_problem(refresh, 401, "AUTH_REFRESH_TOKEN_INVALID")


def test_logging_in_fails_like_for_an_unknown_account(client: Client, deleted_mira: Member) -> None:
    unknown = assert_problem(_login(client, "nobody@example.com"), 401, "AUTH_INVALID_CREDENTIALS")
    user_id = deleted_mira.user.pk

    for login in (MIRA_EMAIL, "mira", f"deleted-{user_id}", f"deleted+{user_id}@invalid"):
        body = assert_problem(_login(client, login), 401, "AUTH_INVALID_CREDENTIALS")
        assert body["detail"] == unknown["detail"]
    assert not Session.objects.filter(user_id=user_id).exists()


def test_no_reset_or_verification_mail_goes_to_the_old_address(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    # A reset link mailed before the deletion dies with the account.
    forgot = post_json(
        client, "/api/v1/auth/password/forgot", {"email": MIRA_EMAIL}, **{"X-Real-IP": next_ip()}
    )
    assert forgot.status_code == 202
    old_link = token_in(outbox("password_reset")[-1], "/reset-password")
    OutgoingMail.objects.update(status=OutgoingMail.Status.SENT)
    allow_deletion(feature_stub, mira.user)
    assert delete_me(client, mira).status_code == 204

    for path in ("/api/v1/auth/password/forgot", "/api/v1/auth/verify-email/request"):
        response = post_json(client, path, {"email": MIRA_EMAIL}, **{"X-Real-IP": next_ip()})
        assert response.status_code == 202
    reset = post_json(
        client,
        "/api/v1/auth/password/reset",
        {"token": old_link, "new_password": "a brand new passphrase 9"},
        **{"X-Real-IP": next_ip()},
    )

    assert_problem(reset, 400, "RESET_TOKEN_INVALID")
    assert not OutgoingMail.objects.filter(status=OutgoingMail.Status.PENDING).exists()
    assert not User.objects.get(pk=mira.user.pk).has_usable_password()


def test_the_username_and_address_are_free_again(client: Client, deleted_mira: Member) -> None:
    response = post_json(
        client,
        "/api/v1/auth/register",
        {"email": MIRA_EMAIL, "password": PASSWORD, "username": "mira", "full_name": "New Mira"},
        **{"X-Real-IP": next_ip()},
    )

    assert response.status_code == 201, response.content
    newcomer = User.objects.get(username="mira")
    assert newcomer.pk != deleted_mira.user.pk
    assert newcomer.email == MIRA_EMAIL
    assert newcomer.deleted_at is None


def test_the_profile_is_gone_and_threads_show_a_deleted_author(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    thread = make_thread(mira.user, title="Still here")
    award(mira.user, make_badge("Shiny"), primary=True)
    allow_deletion(feature_stub, mira.user)
    assert delete_me(client, mira).status_code == 204
    user_id = mira.user.pk
    placeholder = {
        "id": user_id,
        "username": f"deleted-{user_id}",
        "avatar_url": None,
        "primary_badge": None,
    }

    for name in ("mira", f"deleted-{user_id}"):
        assert_problem(client.get(f"/api/v1/users/{name}"), 404, "USER_NOT_FOUND")
    detail = client.get(f"/api/v1/threads/{thread.pk}")
    assert detail.status_code == 200, detail.content
    assert detail.json()["author"] == placeholder
    listed = client.get("/api/v1/threads")
    [item] = [item for item in listed.json()["items"] if item["id"] == thread.pk]
    assert item["author"] == placeholder


def test_internal_lookups_report_a_deleted_user(
    client: Client, settings: Any, deleted_mira: Member
) -> None:
    accept_feature_keys(settings)
    user_id = deleted_mira.user.pk
    tombstone_name = f"deleted-{user_id}"

    response = call(
        client,
        "POST",
        f"{INTERNAL}/lookup",
        {"user_ids": [user_id], "usernames": ["mira", tombstone_name]},
    )

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["users"] == {
        str(user_id): {"exists": True, "deleted": True, "locked": False, "username": None}
    }
    assert answer["usernames"] == {
        name: {"exists": False, "user_id": None, "locked": False}
        for name in ("mira", tombstone_name)
    }


def test_an_admin_cannot_lock_or_unlock_a_deleted_account(
    client: Client, deleted_mira: Member
) -> None:
    token = admin_token(make_admin("ops_del"))
    user_id = deleted_mira.user.pk
    events_before = OutboxEvent.objects.count()

    locked = admin_post(client, f"/users/{user_id}/lock", {"reason": "x"}, token=token)
    unlocked = admin_post(client, f"/users/{user_id}/unlock", token=token)

    assert_problem(locked, 404, "USER_NOT_FOUND")
    assert_problem(unlocked, 404, "USER_NOT_FOUND")
    assert not User.objects.get(pk=user_id).is_locked
    assert OutboxEvent.objects.count() == events_before
    assert not SecurityEvent.objects.filter(
        event_type__in=("admin_user_locked", "admin_user_unlocked")
    ).exists()


def test_a_thread_cannot_be_handed_to_a_deleted_account(
    client: Client, deleted_mira: Member
) -> None:
    other = make_user(email="omar@example.com", username="omar")
    thread = make_thread(other)

    response = client.post(
        f"/api/v1/admin/threads/{thread.pk}/move",
        {"author_id": deleted_mira.user.pk, "reason": "x"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin_token(make_admin('ops_mv'))}"},
    )

    assert_problem(response, 422, "UNKNOWN_AUTHOR")
    assert Thread.objects.get(pk=thread.pk).author_id == other.pk


# --- refusals change nothing -------------------------------------------------------------------


def test_sudo_is_required(client: Client, mira: Member, feature_stub: FeatureStub) -> None:
    allow_deletion(feature_stub, mira.user)
    before = snapshot(mira)

    response = client.generic(
        "DELETE",
        ME,
        json.dumps(CONFIRM),
        content_type="application/json",
        headers={"Authorization": f"Bearer {mira.access_token}"},
    )

    assert_problem(response, 403, "SUDO_REQUIRED")
    assert_problem(
        client.generic("DELETE", ME, json.dumps(CONFIRM), content_type="application/json"),
        401,
        "UNAUTHENTICATED",
    )
    assert snapshot(mira) == before
    assert feature_stub.requests == []


@pytest.mark.parametrize(
    ("body", "refusal", "fields"),
    [
        ({}, BAD_SHAPE, {"confirmation"}),
        ({"confirmation": None}, BAD_SHAPE, {"confirmation"}),
        ({"confirmation": True}, BAD_SHAPE, {"confirmation"}),
        ({"confirmation": "DELETE", "now": True}, BAD_SHAPE, {"now"}),
        ({"confirmation": "delete"}, BROKEN_RULE, {"confirmation"}),
        ({"confirmation": " DELETE"}, BROKEN_RULE, {"confirmation"}),
        ({"confirmation": ""}, BROKEN_RULE, {"confirmation"}),
    ],
)
def test_the_confirmation_must_be_exactly_delete(
    client: Client,
    mira: Member,
    feature_stub: FeatureStub,
    body: Any,
    refusal: tuple[int, str],
    fields: set[str],
) -> None:
    allow_deletion(feature_stub, mira.user)
    before = snapshot(mira)

    problem = assert_problem(delete_me(client, mira, body), *refusal)

    assert error_fields(problem) == fields
    assert snapshot(mira) == before
    assert feature_stub.requests == []


def test_no_body_at_all_is_a_400(client: Client, mira: Member, feature_stub: FeatureStub) -> None:
    before = snapshot(mira)
    response = client.delete(ME, headers=mira.headers)
    assert error_fields(assert_problem(response, *BAD_SHAPE)) == {"confirmation"}
    assert snapshot(mira) == before


def test_a_blocked_deletion_is_409_with_the_reasons(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    reasons = ["wallet_balance", "pending_transfers"]
    feature_stub.respond(
        "GET", check_path(mira.user.pk), 200, {"can_delete": False, "blocking_reasons": reasons}
    )
    before = snapshot(mira)

    body = assert_problem(delete_me(client, mira), 409, "ACCOUNT_DELETION_BLOCKED")

    assert body["blocking_reasons"] == reasons
    assert snapshot(mira) == before
    # Still signed in: the account is untouched.
    assert client.get(ME, headers=mira.headers).status_code == 200


def test_an_unreachable_feature_service_is_503_and_changes_nothing(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    feature_stub.stop()
    before = snapshot(mira)

    response = delete_me(client, mira)

    assert_problem(response, 503, "UPSTREAM_UNAVAILABLE")
    assert response["Retry-After"] == "5"
    assert snapshot(mira) == before


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (500, {"code": "INTERNAL_ERROR"}),
        (404, {"code": "NOT_FOUND"}),
        (200, {"can_delete": "yes", "blocking_reasons": []}),
        (200, {"can_delete": True}),
        (200, {"can_delete": False, "blocking_reasons": [3]}),
        (200, [True]),
        (200, None),
    ],
    ids=["5xx", "4xx", "not a bool", "no reasons", "reasons not strings", "a list", "no body"],
)
def test_an_unusable_answer_is_503_and_changes_nothing(
    client: Client, mira: Member, feature_stub: FeatureStub, status: int, answer: Any
) -> None:
    feature_stub.respond("GET", check_path(mira.user.pk), status, answer)
    before = snapshot(mira)

    response = delete_me(client, mira)

    assert_problem(response, 503, "UPSTREAM_UNAVAILABLE")
    assert snapshot(mira) == before


def test_a_failure_inside_the_transaction_changes_nothing(
    mira: Member, feature_stub: FeatureStub, monkeypatch: Any
) -> None:
    give_everything(mira)
    allow_deletion(feature_stub, mira.user)
    before = snapshot(mira)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected failure after the anonymisation")

    monkeypatch.setattr("alephdraad_core.accounts.services.record_security_event", fail)
    quiet = Client(raise_request_exception=False)

    assert_problem(delete_me(quiet, mira), 500, "INTERNAL_ERROR")
    assert snapshot(mira) == before


def test_attempts_are_limited_per_account(
    client: Client, mira: Member, feature_stub: FeatureStub
) -> None:
    feature_stub.respond(
        "GET", check_path(mira.user.pk), 200, {"can_delete": False, "blocking_reasons": ["x"]}
    )
    for _ in range(ACCOUNT_DELETE_PER_USER.limit):
        assert_problem(delete_me(client, mira), 409, "ACCOUNT_DELETION_BLOCKED")

    response = delete_me(client, mira)

    assert_problem(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) > 0
    assert len(feature_stub.requests) == ACCOUNT_DELETE_PER_USER.limit


def test_a_passkey_of_the_deleted_account_no_longer_logs_in(
    client: Client, settings: Any, feature_stub: FeatureStub
) -> None:
    configure_relying_party(settings)
    pia = passkeys_signed_in("pia")
    device = authenticator()
    register_passkey(client, pia, device)
    allow_deletion(feature_stub, pia.user)
    deleted = client.generic(
        "DELETE",
        ME,
        json.dumps(CONFIRM),
        content_type="application/json",
        headers={**pia.headers, SUDO_HEADER: grant_sudo(pia)},
    )
    assert deleted.status_code == 204, deleted.content

    begun = begin_login(client)
    response = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], credential=device.credentials[0])
    )

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    assert not Session.objects.filter(user_id=pia.user.pk).exists()


@pytest.mark.django_db
def test_no_session_is_ever_opened_for_a_tombstone_even_if_it_were_verified() -> None:
    # Defence in depth: the anonymisation leaves the tombstone unverified and without any
    # credential; should that ever change, opening a session still refuses it.
    user = make_user()
    user.is_verified = True
    user.deleted_at = timezone.now()
    with pytest.raises(InvalidCredentials):
        check_may_open_session(user, timezone.now())
