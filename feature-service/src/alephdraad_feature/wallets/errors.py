"""Stable error codes of the wallets domain."""

from __future__ import annotations

from alephdraad_contracts import ProblemType
from alephdraad_feature.platform.errors import DomainError

INSUFFICIENT_BALANCE = ProblemType("INSUFFICIENT_BALANCE", 402, "Insufficient balance")
INSUFFICIENT_TOKENS = ProblemType("INSUFFICIENT_TOKENS", 402, "Insufficient tokens")


class InsufficientBalance(DomainError):
    """The rupiah balance cannot cover the debit; nothing was written."""

    problem_type = INSUFFICIENT_BALANCE


class InsufficientTokens(DomainError):
    """The token balance cannot cover the debit; nothing was written."""

    problem_type = INSUFFICIENT_TOKENS
