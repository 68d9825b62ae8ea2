"""Calls core makes to the feature service's internal listener (DESIGN section 5).

One pooled, signing httpx client per process (`feature_client()`), built from the settings
CORE_INTERNAL_SIGNING_KEY, CORE_FEATURE_INTERNAL_URL and CORE_INTERNAL_TIMEOUT_SECONDS.
`call_feature()` turns every way the call can fail (not configured, connection refused, timeout,
a 5xx, a refused signature) into `UpstreamUnavailable`: a write that depends on the answer must
fail closed with 503 and write nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn

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


@dataclass(frozen=True)
class DeletionCheck:
    """The feature service's answer to "may this user's account be deleted?"."""

    can_delete: bool
    blocking_reasons: tuple[str, ...]


def fetch_deletion_check(user_id: int) -> DeletionCheck:
    """Ask the feature service whether it holds anything that blocks deleting `user_id`.

    Fails closed: anything but a 200 with `{can_delete: bool, blocking_reasons: [str]}` raises
    `UpstreamUnavailable`, since a deletion must never go ahead on an answer nobody gave."""
    path = f"/users/{user_id}/deletion-check"
    response = call_feature("GET", path)
    body = _json_object(response, path)
    can_delete = body.get("can_delete")
    reasons = body.get("blocking_reasons")
    if (
        not isinstance(can_delete, bool)
        or not isinstance(reasons, list)
        or not all(isinstance(reason, str) for reason in reasons)
    ):
        _malformed(path, response)
    return DeletionCheck(can_delete=can_delete, blocking_reasons=tuple(reasons))


@dataclass(frozen=True)
class ReplyState:
    """What the feature service says about one reply id (its lookup's `replies` member)."""

    exists: bool
    deleted: bool
    thread_id: int | None
    author_id: int | None


# The feature service's lookup takes at most this many ids per list, as core's does.
LOOKUP_BATCH = 100


def fetch_reply_states(reply_ids: Iterable[str]) -> dict[str, ReplyState]:
    """The state of each reply id, asked in batches of LOOKUP_BATCH (one call per batch).

    An answer that leaves out an id asked about, or is not the documented shape, raises
    `UpstreamUnavailable`: a repair must never act on an answer nobody gave."""
    wanted = list(dict.fromkeys(reply_ids))
    states: dict[str, ReplyState] = {}
    for start in range(0, len(wanted), LOOKUP_BATCH):
        batch = wanted[start : start + LOOKUP_BATCH]
        response = call_feature("POST", "/lookup", json={"reply_ids": batch})
        replies = _json_object(response, "/lookup").get("replies")
        if not isinstance(replies, dict):
            _malformed("/lookup", response)
        for reply_id in batch:
            state = _reply_state(replies.get(reply_id))
            if state is None:
                _malformed("/lookup", response)
            states[reply_id] = state
    return states


def _reply_state(entry: Any) -> ReplyState | None:
    if not isinstance(entry, dict):
        return None
    exists, deleted = entry.get("exists"), entry.get("deleted")
    thread_id, author_id = entry.get("thread_id"), entry.get("author_id")
    if not isinstance(exists, bool) or not isinstance(deleted, bool):
        return None
    for value in (thread_id, author_id):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return None
    return ReplyState(exists=exists, deleted=deleted, thread_id=thread_id, author_id=author_id)


def _json_object(response: httpx.Response, path: str) -> dict[str, Any]:
    """The body of a 200 answer as a JSON object, else UpstreamUnavailable."""
    if response.status_code != 200:
        _malformed(path, response)
    try:
        body = response.json()
    except ValueError:
        _malformed(path, response)
    if not isinstance(body, dict):
        _malformed(path, response)
    return body


def _malformed(path: str, response: httpx.Response) -> NoReturn:
    # A 4xx here means the two services disagree about the contract: an operator's problem,
    # not the client's, so it is logged and answered like an outage.
    logger.error(
        "feature service gave an unusable answer",
        extra={"path": path, "status": response.status_code, "body": response.text[:500]},
    )
    raise UpstreamUnavailable()
