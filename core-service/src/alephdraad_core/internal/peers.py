"""Calls core makes to the feature service's internal listener (DESIGN section 5).

One pooled, signing httpx client per process (`feature_client()`), built from the settings
CORE_INTERNAL_SIGNING_KEY, CORE_FEATURE_INTERNAL_URL and CORE_INTERNAL_TIMEOUT_SECONDS.
`call_feature()` turns every way the call can fail (not configured, connection refused, timeout,
a 5xx, a refused signature) into `UpstreamUnavailable`: a write that depends on the answer must
fail closed with 503 and write nothing.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import httpx
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from alephdraad_contracts import UPSTREAM_UNAVAILABLE, signed_client
from alephdraad_core.platform.errors import DomainError

logger = logging.getLogger(__name__)

FEATURE_SERVICE = "feature-service"
# What Retry-After says when the feature service cannot be reached: a restart or a blip.
RETRY_AFTER_SECONDS = 5
_CLIENT_SETTINGS = frozenset(
    {"INTERNAL_SIGNING_KEY", "FEATURE_INTERNAL_URL", "INTERNAL_TIMEOUT_SECONDS"}
)


class UpstreamUnavailable(DomainError):
    problem_type = UPSTREAM_UNAVAILABLE

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail or "The feature service is unavailable; nothing was changed. Try again later.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            extensions={"upstream": FEATURE_SERVICE},
        )


@cache
def feature_client() -> httpx.Client | None:
    """The process's client for the feature service, or None when core has no signing key."""
    key = settings.INTERNAL_SIGNING_KEY
    if key is None:
        return None
    return signed_client(
        settings.FEATURE_INTERNAL_URL,
        caller=key.caller,
        keyid=key.keyid,
        secret=key.secret,
        timeout=httpx.Timeout(settings.INTERNAL_TIMEOUT_SECONDS, connect=2.0),
    )


@receiver(setting_changed)
def _forget_client(*, setting: str, **_: Any) -> None:
    # Tests point core at a stub feature service with override_settings.
    if setting in _CLIENT_SETTINGS:
        feature_client.cache_clear()


def call_feature(method: str, path: str, *, json: Any = None) -> httpx.Response:
    """Send one signed request to the feature service's /internal/v1 `path`.

    Returns the response when the feature service answered it (2xx, or a 4xx about the
    request itself); raises `UpstreamUnavailable` when it did not answer usefully."""
    client = feature_client()
    if client is None:
        logger.error("internal call impossible: CORE_INTERNAL_SIGNING_KEY is not set")
        raise UpstreamUnavailable()
    try:
        response = client.request(method, f"/internal/v1{path}", json=json)
    except httpx.HTTPError as error:
        logger.warning(
            "feature service unreachable",
            extra={"path": path, "error": type(error).__name__},
        )
        raise UpstreamUnavailable() from None
    if response.status_code >= 500 or response.status_code in (401, 403, 408, 429):
        # 401/403: our signature was refused (keys out of step) - a configuration fault the
        # client cannot fix either; the logs say which.
        logger.warning(
            "feature service refused an internal call",
            extra={"path": path, "status": response.status_code, "body": response.text[:500]},
        )
        raise UpstreamUnavailable()
    return response
