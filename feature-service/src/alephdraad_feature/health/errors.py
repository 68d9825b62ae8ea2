"""Stable error codes of the health domain."""

from __future__ import annotations

from alephdraad_contracts import NOT_READY
from alephdraad_feature.platform.errors import DomainError


class ServiceNotReady(DomainError):
    """A dependency did not answer; `checks` (an extension member) says which."""

    problem_type = NOT_READY
