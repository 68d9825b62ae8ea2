"""`python -m alephdraad_feature.openapi OUT.json`: write the service's OpenAPI document.

`make openapi` writes contracts/openapi/feature.json with it, and a test fails when the code and
the committed file differ. The output is deterministic: sorted keys, two-space indent, one
trailing newline, and nothing taken from the environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from alephdraad_feature.app import create_app
from alephdraad_feature.settings import Settings


def _documentation_settings() -> Settings:
    # Built without reading the environment, so `make openapi` needs no database and no
    # variables, and a developer's shell cannot change the document. Building the app does
    # no I/O; this URL is never dialled.
    return Settings.model_construct(mongodb_url=SecretStr("mongodb://127.0.0.1:27017/"))


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as served at /docs/feature/openapi.json."""
    return create_app(settings=_documentation_settings()).openapi_schema.to_schema()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alephdraad_feature.openapi",
        description="Write the feature-service OpenAPI document.",
    )
    parser.add_argument(
        "output", type=Path, help="file to write, e.g. contracts/openapi/feature.json"
    )
    args = parser.parse_args(argv)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(openapi_document()), encoding="utf-8")
    sys.stderr.write(f"wrote {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
