from __future__ import annotations

from alephdraad_contracts import ProblemType
from alephdraad_core.platform.errors import DomainError


class SudoRequired(DomainError):
    """403: re-authenticate (POST /auth/sudo or the passkey ceremony) and send X-Sudo-Token."""

    problem_type = ProblemType("SUDO_REQUIRED", 403, "Sudo mode required")
