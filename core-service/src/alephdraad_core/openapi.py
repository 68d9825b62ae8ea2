"""Write the OpenAPI document: `python -m alephdraad_core.openapi OUT.json` (`-` for stdout).

The output is deterministic (sorted keys, two-space indent, trailing newline) so the committed
copy in contracts/openapi/core.json can be compared byte for byte (tests/test_openapi.py).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any


class SchemaWarnings(RuntimeError):
    """drf-spectacular had to guess part of an endpoint; the contract must not be a guess."""


def build_openapi_schema(urlconf: str | None = None) -> dict[str, Any]:
    """The schema drf-spectacular generates for a URLconf (ROOT_URLCONF by default).

    Needs Django set up. Raises SchemaWarnings instead of returning a partly guessed schema.
    """
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.settings import spectacular_settings

    GENERATOR_STATS.reset()
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS(urlconf=urlconf)
    schema: dict[str, Any] = generator.get_schema(request=None, public=True)
    if GENERATOR_STATS:
        GENERATOR_STATS.emit_summary()
        raise SchemaWarnings("drf-spectacular reported warnings or errors (listed above)")
    return schema


def render_openapi_document() -> str:
    """The document as the exact text that is committed."""
    return json.dumps(build_openapi_schema(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alephdraad_core.openapi", description=__doc__)
    parser.add_argument("output", help="file to write, or - for stdout")
    args = parser.parse_args(argv)

    # The document depends on code only, never on deployment values, yet settings refuse to load
    # without them. Stand-ins let `make openapi` run on a machine with no database configured;
    # nothing in this process connects to the database or signs anything.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alephdraad_core.settings")
    os.environ.setdefault("DATABASE_URL", "postgresql://openapi.invalid/unused")
    os.environ.setdefault("CORE_SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("CORE_JWT_KEYS_FILE", "/nonexistent/unused-jwt-keys.json")

    import django

    django.setup()
    try:
        document = render_openapi_document()
    except SchemaWarnings as error:
        sys.stderr.write(f"{error}; the document was not written\n")
        return 1
    if args.output == "-":
        sys.stdout.write(document)
    else:
        Path(args.output).write_text(document, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
