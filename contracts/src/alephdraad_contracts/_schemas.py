"""JSON Schemas shipped with the package, so every consumer validates against the same file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).parent / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    """Load `schemas/<name>.schema.json` (e.g. `load_schema("problem")`)."""
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a schema name: {name!r}")
    path = SCHEMAS_DIR / f"{name}.schema.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
