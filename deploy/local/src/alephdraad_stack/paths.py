"""Where the repository and a stack's state live."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import StackError

ROOT_VARIABLE = "ALEPHDRAAD_ROOT"


def _is_repo_root(path: Path) -> bool:
    return all((path / part).is_dir() for part in ("core-service", "feature-service", "gateway"))


def find_repo_root(start: Path | None = None) -> Path:
    """The repository root: $ALEPHDRAAD_ROOT, else the first ancestor holding both services."""
    explicit = os.environ.get(ROOT_VARIABLE, "").strip()
    if explicit:
        root = Path(explicit).resolve()
        if not _is_repo_root(root):
            raise StackError(f"{ROOT_VARIABLE}={explicit} is not the Alephdraad repository root")
        return root
    candidates = [start] if start is not None else [Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for path in (candidate, *candidate.parents):
            if _is_repo_root(path):
                return path
    raise StackError(
        f"cannot find the Alephdraad repository (run from inside it, or set {ROOT_VARIABLE})"
    )


def service_venv_bin(repo_root: Path, service: str, executable: str) -> Path:
    path = repo_root / service / ".venv" / "bin" / executable
    if not path.exists():
        raise StackError(f"{service} is not installed ({path} is missing): run `make sync`")
    return path
