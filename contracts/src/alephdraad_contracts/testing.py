"""Test helpers both services share (not used in production code).

`sync_pact_file` keeps the committed pact files in `contracts/pacts/` honest: a consumer test
writes its pact to a temporary directory and compares it with the committed one, so a changed
interaction fails CI until the new file is committed (and then the provider's verification,
which replays the committed file, has to pass with it).

`SigningProxy` lets a tool that cannot sign requests - the Pact verifier replaying a consumer's
interactions - talk to a real internal listener: it listens on 127.0.0.1, signs each request
it receives as `caller` (RFC 9421, exactly like `signed_client`), forwards it to `upstream` and
relays the answer. The provider under test still runs its real signature verification.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import httpx

from ._http_client import SigningAuth

# Set to 1 to let consumer tests rewrite the committed pact files (`make pacts`).
UPDATE_PACTS_VARIABLE = "UPDATE_PACTS"

# Connection-scoped headers a proxy must not forward (RFC 9110 section 7.6.1), plus the ones
# httpx computes itself.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class SigningProxy:
    """`with SigningProxy(upstream, caller=…, keyid=…, secret=…) as proxy:` then send unsigned
    requests to `proxy.url`."""

    def __init__(self, upstream: str, *, caller: str, keyid: str, secret: bytes) -> None:
        self._client = httpx.Client(
            base_url=upstream.rstrip("/"),
            auth=SigningAuth(caller=caller, keyid=keyid, secret=secret),
            follow_redirects=False,
            timeout=30.0,
        )
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in _NOT_FORWARDED
                }
                answer = proxy._client.request(
                    self.command, self.path, headers=headers, content=body
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in _NOT_FORWARDED | {"content-encoding"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the upstream logs every request it serves."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SigningProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


def _comparable(path: Path) -> object:
    document = json.loads(path.read_text(encoding="utf-8"))
    # Library versions, not the contract.
    document.pop("metadata", None)
    # Interactions merged from several tests: their order is not part of the contract.
    document["interactions"] = sorted(
        document.get("interactions", []), key=lambda i: json.dumps(i, sort_keys=True)
    )
    return document


def sync_pact_file(generated: Path, committed: Path) -> None:
    """Compare a freshly written pact with the committed one; copy it over when the
    UPDATE_PACTS variable is 1, otherwise raise AssertionError naming the file to refresh."""
    if os.environ.get(UPDATE_PACTS_VARIABLE) == "1":
        committed.parent.mkdir(parents=True, exist_ok=True)
        committed.write_text(generated.read_text(encoding="utf-8"), encoding="utf-8")
        return
    if not committed.exists():
        raise AssertionError(f"{committed} is missing: run `make pacts` and commit it")
    if _comparable(generated) != _comparable(committed):
        raise AssertionError(
            f"the consumer's interactions changed but {committed} did not: run `make pacts`, "
            "check that the provider still verifies, and commit the file"
        )
