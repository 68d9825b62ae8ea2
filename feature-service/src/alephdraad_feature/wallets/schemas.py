"""Response shapes of the wallets API (snake_case, DESIGN section 3)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WalletOut(BaseModel):
    balance: int = Field(ge=0, description="Whole rupiah.", examples=[150000])
    token_balance: int = Field(ge=0, examples=[10500])
    updated_at: datetime


class TransactionOut(BaseModel):
    """One ledger entry. `amount` (rupiah) and `token_amount` are signed: a credit is
    positive, a debit negative. `balance_after` / `token_balance_after` are the wallet's
    balances right after it."""

    id: str = Field(examples=["txn_01KAZ3QF0V8M2N4P6R8S9T0W1X"])
    type: str = Field(examples=["token_purchase"])
    amount: int = Field(examples=[-50000])
    token_amount: int = Field(examples=[10500])
    description: str = Field(examples=["Pembelian paket Starter"])
    balance_after: int = Field(examples=[100000])
    token_balance_after: int = Field(examples=[10500])
    created_at: datetime


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next (older) page; null on the last page."
    )


class WalletAuditOut(BaseModel):
    """The wallet's stored balances against the sums of its transactions."""

    user_id: int
    balance: int
    token_balance: int
    ledger_balance: int
    ledger_token_balance: int
    drift: bool = Field(description="True when the stored balances differ from the ledger's.")
