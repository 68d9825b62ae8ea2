"""`python -m alephdraad_feature.serve`, as the launcher and the Docker image run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support import free_port

STARTUP_DEADLINE_SECONDS = 20
SHUTDOWN_DEADLINE_SECONDS = 5


def _wait_for_health(base_url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    with httpx.Client(base_url=base_url, timeout=1.0) as client:
        while True:
            assert process.poll() is None, "the server exited during start-up"
            try:
                return client.get("/healthz")
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            # The connection attempt itself paces this loop (refused at once): yield briefly.
            time.sleep(0.05)


def test_serve_runs_uvicorn_with_json_logs_and_stops_on_sigterm(
    tmp_path: Path, mongodb_url: str, test_database: str
) -> None:
    port = free_port()
    stderr_path = tmp_path / "stderr.log"
    env = {
        **os.environ,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": test_database,
        "FEATURE_HOST": "127.0.0.1",
        "FEATURE_PORT": str(port),
        "FEATURE_WEB_WORKERS": "1",
        "LOG_LEVEL": "INFO",
    }
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "alephdraad_feature.serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            health = _wait_for_health(base_url, process)
            ready = httpx.get(f"{base_url}/readyz", headers={"X-Request-ID": "serve-ready"})
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                returncode = process.wait(timeout=SHUTDOWN_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise

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
