"""The `wallets` and `transactions` collections (seed fields kept, names and meaning).

A wallet's balances change only through `services.do_post_transaction`: one conditional
server-side `$inc` of the wallet and the insert of its transaction, in one MongoDB transaction.
So the sum of a user's transactions is always their wallet's balances (`selectors.audit_wallet`
proves it), and `balanceAfter` / `tokenBalanceAfter` let anyone replay the history.

Handlers and services use pymongo directly (`platform.db`); these classes declare the
collections, fields and indexes for `init_beanie`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

# The seed's types plus what later parts of issue 9 post; `adjustment` is an operator's
# correction (transactions are append-only: a mistake is corrected by a new entry).
TransactionType = Literal["topup", "token_purchase", "chat_usage", "refund", "adjustment"]
TRANSACTION_TYPES: tuple[str, ...] = (
    "topup",
    "token_purchase",
    "chat_usage",
    "refund",
    "adjustment",
)


class Wallet(Document):
    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # wal_ + ULID
    user_id: int = Field(alias="userId")
    # Whole rupiah; never negative (the conditional update refuses a debit it cannot cover).
    balance: int = Field(default=0, ge=0)
    token_balance: int = Field(default=0, ge=0, alias="tokenBalance")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")

    class Settings:
        name = "wallets"
        indexes: ClassVar[list[IndexModel]] = [
            # One wallet per user: the lazy upsert and the user.registered upsert may race, and
            # the unique index makes the loser's insert fail instead of creating a second one.
            IndexModel([("userId", ASCENDING)], name="userId_unique", unique=True),
        ]


class Transaction(Document):
    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # txn_ + ULID
    user_id: int = Field(alias="userId")
    wallet_id: str = Field(alias="walletId")
    type: str
    # Signed: a credit is positive, a debit negative (rupiah and tokens).
    amount: int
    token_amount: int = Field(alias="tokenAmount")
    description: str
    # The wallet's balances right after this entry (the seed did not have them).
    balance_after: int = Field(alias="balanceAfter")
    token_balance_after: int = Field(alias="tokenBalanceAfter")
    created_at: datetime = Field(alias="createdAt")

    class Settings:
        name = "transactions"
        indexes: ClassVar[list[IndexModel]] = [
            # The seed's index: a user's history newest first (the keyset pages add _id).
            IndexModel([("userId", ASCENDING), ("createdAt", DESCENDING)], name="userId_createdAt"),
            # The same filtered by ?type=.
            IndexModel(
                [("userId", ASCENDING), ("type", ASCENDING), ("createdAt", DESCENDING)],
                name="userId_type_createdAt",
            ),
        ]
