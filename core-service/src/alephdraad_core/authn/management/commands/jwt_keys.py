"""`manage.py jwt_keys init|rotate|show`: the access-token signing keys.

jwt_keys init --file PATH    create a key set with one key, unless the file exists
jwt_keys rotate              retire the signing key, add a new one, prune keys no live
                             token can need; the retired public key stays in the JWKS
                             for RETIRED_KEY_PUBLISH_SECONDS. With CORE_JWT_KEYS (keys in
                             the environment) the new set is printed for the secret store.
jwt_keys show                kid, created, retired, and which key signs
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from alephdraad_core.authn.keys import (
    clear_keyring_cache,
    dump_key_set,
    keyring,
    new_key_entry,
    rotated_entries,
    write_key_file,
)


class Command(BaseCommand):
    help = "Create, rotate or list the access-token signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["init", "rotate", "show"])
        parser.add_argument("--file", type=Path, help="key-set file (default CORE_JWT_KEYS_FILE)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        explicit: Path | None = options["file"]
        path: Path | None = explicit or (
            Path(settings.JWT_KEYS_FILE) if settings.JWT_KEYS_FILE else None
        )
        if action == "init":
            self._init(path)
        elif action == "rotate":
            # Without --file, rotate the set the service signs with: CORE_JWT_KEYS wins over
            # CORE_JWT_KEYS_FILE (authn/keys.py), so rewriting the file would change nothing.
            self._rotate(explicit if settings.JWT_KEYS else path)
        else:
            self._show()

    def _init(self, path: Path | None) -> None:
        if path is None:
            raise CommandError("give --file or set CORE_JWT_KEYS_FILE")
        if path.exists():
            self.stdout.write(f"{path} exists; nothing to do")
            return
        write_key_file(path, [new_key_entry()])
        self.stdout.write(f"created {path}")

    def _rotate(self, path: Path | None) -> None:
        now = timezone.now()
        if settings.JWT_KEYS and path is None:
            entries = json.loads(settings.JWT_KEYS)["keys"]
            self.stdout.write(dump_key_set(rotated_entries(entries, now)), ending="")
            self.stderr.write("store the key set above in CORE_JWT_KEYS and restart the service")
            return
        if path is None or not path.exists():
            raise CommandError(f"no key set at {path}; run `jwt_keys init` first")
        entries = rotated_entries(json.loads(path.read_text())["keys"], now)
        write_key_file(path, entries)
        clear_keyring_cache()
        # The new key of this file, which is not the service's set when --file names another.
        self.stdout.write(f"rotated {path}; new signing key {entries[-1]['kid']}")

    def _show(self) -> None:
        ring = keyring()
        active = ring.active.kid
        for key in ring.keys:
            retired = key.retired_at.isoformat() if key.retired_at else "-"
            marker = " (signing)" if key.kid == active else ""
            self.stdout.write(
                f"{key.kid}  created {key.created_at.isoformat()}  retired {retired}{marker}"
            )
