from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from alephdraad_stack.gateway import check_config, nginx_argv, nginx_binary, render_gateway
from alephdraad_stack.paths import find_repo_root
from alephdraad_stack.ports import HOST, pick_free_port
from alephdraad_stack.process import ManagedProcess

REPO_ROOT = find_repo_root(Path(__file__).resolve())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A temp dir other users can traverse (pytest's tmp_path is 0700, which PostgreSQL
    running as an unprivileged user cannot enter when the tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix="alephdraad-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class StubUpstream:
    """A stand-in for a service: answers every request with what it received."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.connections = 0
        self.release_slow = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                stub.connections += 1

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if "/slow" in self.path:
                    stub.release_slow.wait(10)
                payload = json.dumps(
                    {
                        "service": stub.name,
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body_bytes": len(body),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-Request-ID", "from-upstream")
                self.send_header("X-Frame-Options", "SAMEORIGIN")
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def close(self) -> None:
        self.release_slow.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def start_gateway(
    repo_root: Path, scratch_dir: Path
) -> Iterator[Callable[..., tuple[str, StubUpstream, StubUpstream]]]:
    """Start nginx from the real templates in front of two stub upstreams."""
    started: list[ManagedProcess] = []
    stubs: list[StubUpstream] = []

    def start(
        env: dict[str, str] | None = None, *, feature_down: bool = False
    ) -> tuple[str, StubUpstream, StubUpstream]:
        core, feature = StubUpstream("core"), StubUpstream("feature")
        stubs.extend([core, feature])
        feature_address = feature.address
        if feature_down:
            feature.close()
        port = pick_free_port()
        prefix = scratch_dir / f"gateway-{len(started)}"
        conf = render_gateway(
            repo_root,
            prefix,
            listen=f"{HOST}:{port}",
            core_upstream=core.address,
            feature_upstream=feature_address,
            env=env or {},
        )
        binary = nginx_binary()
        check_config(binary, prefix, conf)
        process = ManagedProcess(
            "gateway", nginx_argv(binary, prefix, conf), log_path=prefix / "nginx.log", env={}
        )
        process.start()
        started.append(process)
        base = f"http://{HOST}:{port}"
        process.wait_ready(lambda: _ok(f"{base}/health/gateway"), 20, "gateway")
        return base, core, feature

    yield start
    for process in started:
        process.stop()
    for stub in stubs:
        stub.close()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
