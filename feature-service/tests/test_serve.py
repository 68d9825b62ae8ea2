"""`python -m alephdraad_feature.serve`, as the launcher and the Docker image run it."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
from support import served_feature_service


def test_serve_runs_uvicorn_with_json_logs_and_stops_on_sigterm(
    tmp_path: Path, mongodb_url: str, test_database: str
) -> None:
    stderr_path = tmp_path / "stderr.log"
    with served_feature_service(
        stderr_path, MONGODB_URL=mongodb_url, MONGODB_DATABASE=test_database, LOG_LEVEL="INFO"
    ) as served:
        ready = httpx.get(f"{served.base_url}/readyz", headers={"X-Request-ID": "serve-ready"})
    health, returncode = served.health, served.returncode

    assert health.status_code == 200
    assert health.json()["service"] == "feature-service"
    assert "server" not in health.headers
    assert ready.status_code == 200
    assert ready.headers["x-request-id"] == "serve-ready"
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught, so the
    # parent sees the conventional "terminated by SIGTERM" status.
    assert returncode in {0, -signal.SIGTERM}

    lines = [json.loads(line) for line in stderr_path.read_text(encoding="utf-8").splitlines()]
    assert lines, "the server wrote nothing to stderr"
    assert all(line["service"] == "feature-service" for line in lines)
    messages = [line["message"] for line in lines]
    assert "beanie initialised" in messages
    assert any(
        line.get("path") == "/readyz" and line["request_id"] == "serve-ready" for line in lines
    )
    assert "Application shutdown complete." in messages
