"""`manage.py create_admin --email E --username U [--password-stdin]`: add an operator account.

The password is never an argument (it would land in shell history and `ps`): it is read from
standard input with --password-stdin (one line, for scripts:
`printf '%s\\n' "$PW" | manage.py create_admin … --password-stdin`), else prompted for twice on
the terminal. Admin passwords need at least 12 characters (users need 8) and pass the common-
password and similarity checks; see admins.services.ADMIN_PASSWORD_MIN_LENGTH.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alephdraad_core.admins.services import do_create_admin
from alephdraad_core.platform.errors import DomainError


class Command(BaseCommand):
    help = "Create an admin account (a separate table and token audience from users)."
    # call_command(..., stdin=StringIO(...)) in tests, as Django's createsuperuser allows.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input instead of prompting",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stdin = options.get("stdin") or sys.stdin
        password = self._read_password(stdin, options["password_stdin"])
        try:
            admin = do_create_admin(
                email=options["email"], username=options["username"], password=password
            )
        except DomainError as error:
            problems = [f"{e['field']}: {e['message']}" for e in error.errors]
            raise CommandError("; ".join([error.detail, *problems])) from None
        self.stdout.write(f"created admin {admin.pk} ({admin.username} <{admin.email}>)")

    def _read_password(self, stdin: TextIO, from_stdin: bool) -> str:
        if from_stdin:
            line = stdin.readline()
            password = line.removesuffix("\n").removesuffix("\r")
            if not password:
                raise CommandError("no password on standard input")
            return password
        if not stdin.isatty():
            raise CommandError("no terminal to prompt on: pass the password with --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CommandError("the passwords do not match")
        return password
