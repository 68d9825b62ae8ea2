"""Facts about the HTTP client that several domains need (rate limits, sessions, audit)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

USER_AGENT_MAX = 512


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: X-Real-IP when the direct peer is a trusted proxy (the gateway),
    else the peer itself. Never X-Forwarded-For's first entry, which the client controls."""
    peer = request.META.get("REMOTE_ADDR") or None
    if peer in settings.TRUSTED_PROXIES:
        forwarded = (request.headers.get("X-Real-IP") or "").strip()
        if forwarded:
            try:
                return str(ipaddress.ip_address(forwarded))
            except ValueError:
                return peer
    return peer


def user_agent(request: HttpRequest) -> str:
    return (request.headers.get("User-Agent") or "")[:USER_AGENT_MAX]


def request_id(request: HttpRequest) -> str:
    return str(getattr(request, "request_id", "") or "")
