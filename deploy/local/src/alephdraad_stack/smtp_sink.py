"""An SMTP sink for development and tests: every message lands as a file, nothing is relayed.

Each message is written to `<mail-dir>/<UTC time>-<id>.eml` (the raw RFC 5322 message) with a
`.json` beside it holding the envelope (mail_from, rcpt_tos, received_at). Files appear
atomically (written under a temporary name, then renamed), so a reader never sees half a mail.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = datetime.now(tz=UTC)
        stem = f"{received.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:12]}"
        content: bytes = envelope.original_content or envelope.content
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received_at": received.isoformat().replace("+00:00", "Z"),
            "file": f"{stem}.eml",
        }
        _write_atomically(self.mail_dir / f"{stem}.json", json.dumps(meta).encode())
        _write_atomically(self.mail_dir / f"{stem}.eml", content)
        return "250 Message accepted for delivery"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mail-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.mail_dir.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = Controller(MaildirHandler(args.mail_dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"smtp sink listening on {args.host}:{args.port}, writing to {args.mail_dir}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
