from __future__ import annotations

from alephdraad_contracts import RATE_LIMITED
from alephdraad_core.platform.errors import DomainError


class RateLimited(DomainError):
    problem_type = RATE_LIMITED
