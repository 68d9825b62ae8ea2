"""Assertions shared by the test modules."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from litestar import Litestar

from alephdraad_contracts import PROBLEM_CONTENT_TYPE, ProblemType, load_schema

# The `make_client` fixture: `async with make_client(handlers, **settings) as client`.
MakeClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (MongoDB client, Beanie) and talk to it over ASGI.

    Everything runs on the test's event loop, as under uvicorn, so a test may also use the
    app's AsyncMongoClient directly (it is bound to the loop it was created on).
    """
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://feature.test") as client,
    ):
        yield client


PROBLEM_VALIDATOR = Draft202012Validator(load_schema("problem"))
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_problem(
    response: httpx.Response, problem_type: ProblemType, *, request_id: str | None = None
) -> dict[str, Any]:
    """The response is `problem_type` as problem+json, valid against the contract's schema,
    carrying the request id of its X-Request-ID header (and `request_id` when given)."""
    assert response.status_code == problem_type.status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    PROBLEM_VALIDATOR.validate(body)
    assert body["code"] == problem_type.code
    assert body["type"] == problem_type.type_uri
    assert body["title"] == problem_type.title
    assert body["status"] == problem_type.status
    assert body["request_id"] == response.headers["x-request-id"]
    if request_id is not None:
        assert body["request_id"] == request_id
    return body


def free_port() -> int:
    """A TCP port nothing listens on (the kernel's pick, released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class JsonLog:
    """Log records of the service, formatted by the contracts' formatter as they are emitted
    (inside the request's context, so `request_id` is the one the service saw)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["message"] == "request"]


STARTUP_DEADLINE_SECONDS = 20
SHUTDOWN_DEADLINE_SECONDS = 5


def wait_for_health(base_url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    """The first answer of GET /healthz (the process must not exit meanwhile)."""
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


@dataclass
class ServedProcess:
    base_url: str
    health: httpx.Response
    # Set once the process has exited (after the `with` block).
    returncode: int | None = None


@contextmanager
def served_feature_service(stderr_path: Path, **env: str) -> Iterator[ServedProcess]:
    """`python -m alephdraad_feature.serve` as operators run it, on a free port, with `env` on
    top of this process's environment; stopped with SIGTERM at the end of the block."""
    port = free_port()
    full_env = {
        **os.environ,
        "FEATURE_HOST": "127.0.0.1",
        "FEATURE_PORT": str(port),
        "FEATURE_WEB_WORKERS": "1",
        **env,
    }
    base_url = f"http://127.0.0.1:{port}"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "alephdraad_feature.serve"],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        served: ServedProcess | None = None
        try:
            served = ServedProcess(base_url, wait_for_health(base_url, process))
            yield served
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                returncode = process.wait(timeout=SHUTDOWN_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise
            if served is not None:
                served.returncode = returncode
