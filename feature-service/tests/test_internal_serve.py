"""Replay through real HTTP: `python -m alephdraad_feature.serve` with accepted keys, a signed
call from the contracts client, then the very same bytes sent again with plain httpx."""

from __future__ import annotations

from pathlib import Path

import httpx
from internal_support import ACCEPT_KEYS, CORE_KEYID, CORE_SECRET
from support import served_feature_service

from alephdraad_contracts import signed_client


def test_signed_call_over_http_then_its_replay_is_refused(
    tmp_path: Path, mongodb_url: str, test_database: str
) -> None:
    captured: list[httpx.Request] = []
    with served_feature_service(
        tmp_path / "stderr.log",
        MONGODB_URL=mongodb_url,
        MONGODB_DATABASE=test_database,
        FEATURE_INTERNAL_ACCEPT_KEYS=ACCEPT_KEYS,
    ) as served:
        with signed_client(
            served.base_url, caller="core-service", keyid=CORE_KEYID, secret=CORE_SECRET
        ) as client:
            client.event_hooks["request"].append(captured.append)
            first = client.get("/internal/v1/users/7/deletion-check")
        sent = captured[-1]
        replay = httpx.request(
            sent.method, str(sent.url), headers=sent.headers, content=sent.content
        )
        unsigned = httpx.get(f"{served.base_url}/internal/v1/users/7/deletion-check")

    assert first.status_code == 200, first.text
    # User 7 never wrote anything here: every domain's holding is 0 and nothing blocks.
    assert first.json() == {
        "can_delete": True,
        "blocking_reasons": [],
        "holdings": dict.fromkeys(first.json()["holdings"], 0),
    }
    assert replay.status_code == 401, replay.text
    assert replay.json()["reason"] == "replayed_nonce"
    assert replay.headers["www-authenticate"] == "Signature"
    assert unsigned.status_code == 401
