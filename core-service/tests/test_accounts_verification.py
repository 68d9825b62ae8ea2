"""Email verification: confirm with the mailed token, request a new link (no enumeration)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import EmailVerificationToken, User
from alephdraad_core.security.models import RateLimitCounter, SecurityEvent
from tests.accounts_helpers import PASSWORD, make_user, outbox, post_json, token_in
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem

REGISTER = "/api/v1/auth/register"
CONFIRM = "/api/v1/auth/verify-email/confirm"
REQUEST = "/api/v1/auth/verify-email/request"

pytestmark = pytest.mark.django_db


def register(client: Client, email: str = "ines@example.com", username: str = "ines") -> str:
    """Register and return the token from the verification mail."""
    response = post_json(
        client,
        REGISTER,
        {"email": email, "password": PASSWORD, "username": username, "full_name": "Ines Ro"},
    )
    assert response.status_code == 201, response.content
    return token_in(outbox(kind="verify_email", to=email)[-1], "/verify-email")


def test_the_mailed_token_verifies_the_account(client: Client) -> None:
    token = register(client)

    response = post_json(client, CONFIRM, {"token": token}, **{"X-Request-ID": "confirm-1"})

    assert response.status_code == 200, response.content
    assert response.json() == {"message": "Your email address is verified.", "verified": True}
    user = User.objects.get()
    assert user.is_verified is True
    assert EmailVerificationToken.objects.get().used_at is not None
    event = SecurityEvent.objects.get(event_type="email_verified")
    assert (event.user_id, event.request_id) == (user.pk, "confirm-1")


def test_asvs_6_4_1_verification_token_is_single_use(client: Client) -> None:
    token = register(client)
    assert post_json(client, CONFIRM, {"token": token}).status_code == 200

    again = post_json(client, CONFIRM, {"token": token})

    assert_problem(again, 400, "VERIFICATION_TOKEN_INVALID")


def test_asvs_6_4_1_verification_token_expires_after_24_hours(client: Client) -> None:
    token = register(client)
    EmailVerificationToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post_json(client, CONFIRM, {"token": token})

    body = assert_problem(response, 400, "VERIFICATION_TOKEN_INVALID")
    assert User.objects.get().is_verified is False
    assert EmailVerificationToken.objects.get().used_at is None
    # The same answer as a token that never existed: no oracle.
    unknown = assert_problem(post_json(client, CONFIRM, {"token": "x" * 43}), 400, body["code"])
    assert unknown["detail"] == body["detail"]


def test_the_stored_hash_is_not_a_token(client: Client) -> None:
    register(client)
    stored_hash = EmailVerificationToken.objects.get().token

    response = post_json(client, CONFIRM, {"token": stored_hash})

    assert_problem(response, 400, "VERIFICATION_TOKEN_INVALID")
    assert User.objects.get().is_verified is False


def test_confirming_one_link_spends_the_accounts_other_links(client: Client) -> None:
    first = register(client)
    assert post_json(client, REQUEST, {"email": "ines@example.com"}).status_code == 202
    second = token_in(outbox(kind="verify_email")[-1], "/verify-email")
    assert first != second

    assert post_json(client, CONFIRM, {"token": second}).status_code == 200

    assert_problem(post_json(client, CONFIRM, {"token": first}), 400, "VERIFICATION_TOKEN_INVALID")
    assert not EmailVerificationToken.objects.filter(used_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({}, "token", BAD_SHAPE),
        ({"token": ""}, "token", BROKEN_RULE),
        ({"token": 12}, "token", BAD_SHAPE),
        ({"token": "t" * 257}, "token", BROKEN_RULE),
        ({"token": "abc", "email": "x@y.z"}, "email", BAD_SHAPE),
    ],
)
def test_confirm_bad_input_is_a_field_error(
    client: Client, body: object, field: str, expected: tuple[int, str]
) -> None:
    register(client)

    problem = assert_problem(post_json(client, CONFIRM, body), *expected)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert User.objects.get().is_verified is False
    assert EmailVerificationToken.objects.get().used_at is None


def test_request_mails_a_new_link_to_an_unverified_account(client: Client) -> None:
    make_user(email="ines@example.com", username="ines", verified=False)

    response = post_json(client, REQUEST, {"email": " INES@example.com"})

    assert response.status_code == 202
    (mail,) = outbox()
    assert (mail.kind, mail.to_address) == ("verify_email", "ines@example.com")
    assert post_json(client, CONFIRM, {"token": token_in(mail, "/verify-email")}).status_code == 200
    assert User.objects.get().is_verified is True


def test_asvs_6_3_8_request_answers_the_same_whatever_the_address(client: Client) -> None:
    make_user(email="verified@example.com", username="verified", verified=True)
    make_user(email="pending@example.com", username="pending", verified=False)

    answers = [
        post_json(client, REQUEST, {"email": email})
        for email in ("nobody@example.com", "verified@example.com", "pending@example.com")
    ]

    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert [m.to_address for m in outbox()] == ["pending@example.com"]


def test_at_most_2_verification_mails_per_address_per_day_silently(client: Client) -> None:
    make_user(email="ines@example.com", username="ines", verified=False)

    answers = [
        post_json(client, REQUEST, {"email": "ines@example.com"}, **{"X-Real-IP": f"192.0.2.{n}"})
        for n in range(4)
    ]

    assert [a.status_code for a in answers] == [202] * 4
    assert len(outbox(kind="verify_email")) == 2
    assert EmailVerificationToken.objects.count() == 2


def test_at_most_10_verification_mails_per_ip_per_day_silently(client: Client) -> None:
    for number in range(11):
        make_user(email=f"p{number}@example.com", username=f"pending_{number}", verified=False)
    ip = {"X-Real-IP": "198.51.100.20"}

    # Spread over minutes so the per-minute request limit does not answer first.
    answers = []
    for number in range(11):
        if number == 10:
            RateLimitCounter.objects.filter(key__startswith="email-request:ip:").delete()
        answers.append(post_json(client, REQUEST, {"email": f"p{number}@example.com"}, **ip))

    assert [a.status_code for a in answers] == [202] * 11
    assert len(outbox(kind="verify_email")) == 10
    assert not outbox(to="p10@example.com")


def test_asvs_6_3_1_eleventh_request_in_a_minute_from_one_ip_is_429(client: Client) -> None:
    ip = {"X-Real-IP": "198.51.100.30"}
    for _ in range(10):
        assert post_json(client, REQUEST, {"email": "nobody@example.com"}, **ip).status_code == 202

    response = post_json(client, REQUEST, {"email": "nobody@example.com"}, **ip)

    assert_problem(response, 429, "RATE_LIMITED")
    assert response["Retry-After"].isdigit()


@pytest.mark.parametrize(
    "body", [{}, {"email": "not-an-email"}, {"email": 1}, {"email": "a@b.co", "x": 1}]
)
def test_request_bad_input_is_a_field_error(client: Client, body: object) -> None:
    assert_problem(post_json(client, REQUEST, body), 400, "VALIDATION_FAILED")
