"""security/services.py and platform/http.py: fixed-window rate limits shared by every replica
(ASVS 5.0 V2.4 anti-automation), the client address they count against, and the security
event log (V16.3)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.http import HttpRequest
from django.test import RequestFactory

from alephdraad_contracts import PROBLEM_CONTENT_TYPE
from alephdraad_core.platform.http import USER_AGENT_MAX, client_ip
from alephdraad_core.platform.problems import domain_error_response
from alephdraad_core.security.errors import RateLimited
from alephdraad_core.security.models import RateLimitCounter, SecurityEvent
from alephdraad_core.security.services import (
    RateLimit,
    enforce,
    enforce_per_ip,
    hit,
    record_security_event,
)

MINUTE = timedelta(minutes=1)
LOGIN = RateLimit("test-login:ip", 3, MINUTE)
# 12:00:00 UTC is a window boundary for any window that divides an hour.
WINDOW_START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROXY = "127.0.0.1"  # in the default CORE_TRUSTED_PROXIES


def _request(peer: str, real_ip: str | None = None, **headers: str) -> HttpRequest:
    extra = {"REMOTE_ADDR": peer, **headers}
    if real_ip is not None:
        extra["HTTP_X_REAL_IP"] = real_ip
    return RequestFactory().get("/api/v1/anything", **extra)


def _row(key: str) -> RateLimitCounter:
    return RateLimitCounter.objects.get(key=key)


# ---- counting -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_asvs_2_4_hits_are_counted_within_a_window_and_restart_in_the_next() -> None:
    states = [hit(LOGIN, "203.0.113.5", WINDOW_START + timedelta(seconds=s)) for s in (0, 30, 59)]

    assert [state.hits for state in states] == [1, 2, 3]
    assert [state.remaining for state in states] == [2, 1, 0]
    assert all(state.allowed for state in states)
    assert {state.reset_at for state in states} == {WINDOW_START + MINUTE}
    row = _row("test-login:ip:203.0.113.5")
    assert (row.hits, row.window_start, row.expires_at) == (3, WINDOW_START, WINDOW_START + MINUTE)

    fourth = hit(LOGIN, "203.0.113.5", WINDOW_START + timedelta(seconds=59, microseconds=999999))
    assert (fourth.hits, fourth.allowed, fourth.remaining) == (4, False, 0)

    next_window = hit(LOGIN, "203.0.113.5", WINDOW_START + MINUTE)
    assert (next_window.hits, next_window.allowed) == (1, True)
    assert next_window.reset_at == WINDOW_START + 2 * MINUTE
    row = _row("test-login:ip:203.0.113.5")
    assert (row.hits, row.window_start, row.expires_at) == (
        1,
        WINDOW_START + MINUTE,
        WINDOW_START + 2 * MINUTE,
    )

    # A window later than the next one restarts too (no carry-over from an idle period).
    much_later = hit(LOGIN, "203.0.113.5", WINDOW_START + timedelta(hours=5, seconds=1))
    assert much_later.hits == 1


@pytest.mark.django_db
def test_asvs_2_4_each_scope_and_identity_has_its_own_counter() -> None:
    other_scope = RateLimit("test-register:ip", 3, MINUTE)
    at = WINDOW_START + timedelta(seconds=10)
    for _ in range(3):
        hit(LOGIN, "203.0.113.5", at)

    assert hit(LOGIN, "203.0.113.6", at).hits == 1
    assert hit(other_scope, "203.0.113.5", at).hits == 1
    assert hit(LOGIN, "203.0.113.5", at).hits == 4
    assert dict(RateLimitCounter.objects.values_list("key", "hits")) == {
        "test-login:ip:203.0.113.5": 4,
        "test-login:ip:203.0.113.6": 1,
        "test-register:ip:203.0.113.5": 1,
    }


@pytest.mark.django_db
def test_a_longer_window_is_aligned_to_its_own_length() -> None:
    quarter = RateLimit("test-admin:ip", 5, timedelta(minutes=15))
    state = hit(quarter, "198.51.100.1", WINDOW_START + timedelta(minutes=20, seconds=7))
    assert state.reset_at == WINDOW_START + timedelta(minutes=30)
    assert _row("test-admin:ip:198.51.100.1").window_start == WINDOW_START + timedelta(minutes=15)


# ---- enforcing ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_asvs_2_4_past_the_limit_enforce_answers_429_with_retry_after_and_ratelimit_headers() -> (
    None
):
    for n in range(3):
        state = enforce(LOGIN, "203.0.113.9", WINDOW_START + timedelta(seconds=n))
        assert (state.hits, state.remaining) == (n + 1, 2 - n)

    moment = WINDOW_START + timedelta(seconds=20, milliseconds=500)
    with pytest.raises(RateLimited) as caught:
        enforce(LOGIN, "203.0.113.9", moment)

    # 39.5 s to the end of the window, rounded up.
    expected = {
        "Retry-After": "40",
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "40",
        "RateLimit-Policy": "3;w=60",
    }
    assert caught.value.headers == expected
    assert _row("test-login:ip:203.0.113.9").hits == 4  # refused hits still count

    response = domain_error_response(caught.value)
    assert response.status_code == 429
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert {name: response[name] for name in expected} == expected
    body = json.loads(response.content)
    assert (body["status"], body["code"]) == (429, "RATE_LIMITED")
    assert "retry in 40 s" in body["detail"]


@pytest.mark.django_db
def test_retry_after_is_at_least_one_second_at_the_end_of_a_window() -> None:
    tight = RateLimit("test-tight", 1, MINUTE)
    enforce(tight, "x", WINDOW_START)
    with pytest.raises(RateLimited) as caught:
        enforce(tight, "x", WINDOW_START + MINUTE - timedelta(milliseconds=1))
    assert caught.value.headers["Retry-After"] == "1"
    assert caught.value.headers["RateLimit-Reset"] == "1"


@pytest.mark.django_db(transaction=True)
def test_asvs_2_4_concurrent_hits_from_many_replicas_are_counted_exactly() -> None:
    threads = 16
    start = threading.Barrier(threads)
    at = WINDOW_START + timedelta(seconds=5)

    def one_hit() -> int:
        try:
            start.wait(timeout=10)
            return hit(LOGIN, "192.0.2.77", at).hits
        finally:
            connections.close_all()

    with ThreadPoolExecutor(threads) as pool:
        counts = list(pool.map(lambda _: one_hit(), range(threads)))

    # Each hit saw a distinct count: no lost update, no duplicate insert.
    assert sorted(counts) == list(range(1, threads + 1))
    assert _row("test-login:ip:192.0.2.77").hits == threads


# ---- the client address (platform/http.py) --------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "real_ip", "expected"),
    [
        (PROXY, "203.0.113.10", "203.0.113.10"),  # the gateway says who the client is
        ("::1", "2001:DB8::A", "2001:db8::a"),  # IPv6 proxy; address normalised
        (PROXY, None, PROXY),  # no header: the peer itself
        (PROXY, "  ", PROXY),
        (PROXY, "not-an-ip", PROXY),  # garbage is ignored, not stored
        (PROXY, "203.0.113.10, 10.0.0.1", PROXY),  # a list is not one address
        ("198.51.100.20", "203.0.113.10", "198.51.100.20"),  # untrusted peer cannot spoof
        ("10.1.2.3", None, "10.1.2.3"),
    ],
)
def test_asvs_2_4_client_ip_trusts_x_real_ip_only_from_a_trusted_proxy(
    peer: str, real_ip: str | None, expected: str
) -> None:
    assert client_ip(_request(peer, real_ip)) == expected


def test_client_ip_ignores_x_forwarded_for_and_follows_the_configured_proxies(
    settings: Any,
) -> None:
    forged = _request("198.51.100.20", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert client_ip(forged) == "198.51.100.20"
    via_proxy = _request(PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert client_ip(via_proxy) == PROXY

    settings.TRUSTED_PROXIES = frozenset({"10.0.0.5"})
    assert client_ip(_request("10.0.0.5", "203.0.113.10")) == "203.0.113.10"
    assert client_ip(_request(PROXY, "203.0.113.10")) == PROXY


def test_client_ip_without_a_peer_is_none() -> None:
    request = _request(PROXY, "203.0.113.10")
    del request.META["REMOTE_ADDR"]
    assert client_ip(request) is None


@pytest.mark.django_db
def test_asvs_2_4_per_ip_limits_count_the_real_client_not_the_proxy_nor_a_spoofed_header() -> None:
    limit = RateLimit("test-per-ip", 2, timedelta(hours=1))
    for _ in range(2):
        enforce_per_ip(limit, _request(PROXY, "203.0.113.1"))
    # Another client behind the same gateway has its own budget.
    assert enforce_per_ip(limit, _request(PROXY, "203.0.113.2")).hits == 1
    with pytest.raises(RateLimited):
        enforce_per_ip(limit, _request(PROXY, "203.0.113.1"))

    # A direct client rotating X-Real-IP is still counted as itself.
    for n in range(2):
        enforce_per_ip(limit, _request("198.51.100.7", f"203.0.113.{100 + n}"))
    with pytest.raises(RateLimited):
        enforce_per_ip(limit, _request("198.51.100.7", "203.0.113.200"))

    assert dict(RateLimitCounter.objects.values_list("key", "hits")) == {
        "test-per-ip:203.0.113.1": 3,
        "test-per-ip:203.0.113.2": 1,
        "test-per-ip:198.51.100.7": 3,
    }


# ---- the security event log -----------------------------------------------------------------


@pytest.mark.django_db
def test_asvs_16_3_a_security_event_records_who_from_where_and_which_request() -> None:
    agent = "Mozilla/5.0 " + "x" * 600
    request = _request(PROXY, "203.0.113.44", HTTP_USER_AGENT=agent)
    request.request_id = "req-7f3a9c"  # type: ignore[attr-defined]  # set by the middleware

    event = record_security_event(
        "login_failed", request=request, details={"login": "mira", "reason": "bad_password"}
    )

    row = SecurityEvent.objects.get(pk=event.pk)
    assert row.event_type == "login_failed"
    assert row.ip_address == "203.0.113.44"
    assert row.user_agent == agent[:USER_AGENT_MAX]
    assert len(row.user_agent) == 512
    assert row.request_id == "req-7f3a9c"
    assert row.details == {"login": "mira", "reason": "bad_password"}
    assert (row.user_id, row.admin_id) == (None, None)
    assert row.created_at is not None


@pytest.mark.django_db
def test_asvs_16_3_a_spoofed_x_real_ip_is_not_what_the_log_records() -> None:
    request = _request("198.51.100.23", "203.0.113.44")
    event = record_security_event("login_failed", request=request)
    row = SecurityEvent.objects.get(pk=event.pk)
    assert (row.ip_address, row.user_agent, row.request_id) == ("198.51.100.23", "", "")


@pytest.mark.django_db
def test_asvs_16_3_an_event_without_a_request_has_no_client_facts() -> None:
    event = record_security_event("key_rotated", details={"by": "cli"})
    row = SecurityEvent.objects.get(pk=event.pk)
    assert (row.ip_address, row.user_agent, row.request_id) == (None, "", "")
    assert row.details == {"by": "cli"}
