"""Reading wallets: the plain views, a user's transactions a page at a time, the audit, and
what the deletion check asks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alephdraad_feature.platform.pagination import InvalidCursor, decode_cursor, encode_cursor
from alephdraad_feature.wallets.models import Transaction, Wallet
from alephdraad_feature.wallets.schemas import TransactionOut, WalletAuditOut, WalletOut


@dataclass(frozen=True, slots=True)
class WalletRecord:
    id: str
    user_id: int
    balance: int
    token_balance: int
    updated_at: datetime

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> WalletRecord:
        return cls(
            id=document["_id"],
            user_id=int(document["userId"]),
            balance=int(document.get("balance", 0)),
            token_balance=int(document.get("tokenBalance", 0)),
            updated_at=document.get("updatedAt") or document["createdAt"],
        )

    def as_output(self) -> WalletOut:
        return WalletOut(
            balance=self.balance, token_balance=self.token_balance, updated_at=self.updated_at
        )


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    id: str
    user_id: int
    wallet_id: str
    type: str
    amount: int
    token_amount: int
    description: str
    balance_after: int
    token_balance_after: int
    created_at: datetime

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> TransactionRecord:
        return cls(
            id=document["_id"],
            user_id=int(document["userId"]),
            wallet_id=document["walletId"],
            type=document["type"],
            amount=int(document.get("amount", 0)),
            token_amount=int(document.get("tokenAmount", 0)),
            description=document.get("description", ""),
            balance_after=int(document.get("balanceAfter", 0)),
            token_balance_after=int(document.get("tokenBalanceAfter", 0)),
            created_at=document["createdAt"],
        )

    def as_output(self) -> TransactionOut:
        return TransactionOut(
            id=self.id,
            type=self.type,
            amount=self.amount,
            token_amount=self.token_amount,
            description=self.description,
            balance_after=self.balance_after,
            token_balance_after=self.token_balance_after,
            created_at=self.created_at,
        )


async def find_wallet(user_id: int) -> WalletRecord | None:
    document = await Wallet.get_pymongo_collection().find_one({"userId": user_id})
    return WalletRecord.from_document(document) if document is not None else None


@dataclass(frozen=True, slots=True)
class TransactionPageResult:
    items: list[TransactionRecord]
    next_cursor: str | None


def _page_scope(user_id: int, type_: str | None) -> str:
    # The cursor belongs to one user's list with one filter: replayed elsewhere it is refused.
    return f"transactions:{user_id}:{type_ or '*'}"


def _cursor_position(cursor: str, scope: str) -> tuple[datetime, str]:
    position = decode_cursor(cursor, scope)
    if (
        len(position) != 2
        or not isinstance(position[0], str)
        or not isinstance(position[1], str)
        or not position[1].startswith("txn_")
    ):
        raise InvalidCursor()
    try:
        created_at = datetime.fromisoformat(position[0])
    except ValueError:
        raise InvalidCursor() from None
    if created_at.tzinfo is None:
        raise InvalidCursor()
    return created_at, position[1]


async def transactions_page(
    user_id: int, *, type_: str | None, limit: int, cursor: str | None
) -> TransactionPageResult:
    """Newest first, keyset on (createdAt, _id) descending: served by the userId_createdAt (or
    userId_type_createdAt) index, stable while new entries arrive. One item more than asked
    tells whether there is a next page."""
    scope = _page_scope(user_id, type_)
    query: dict[str, Any] = {"userId": user_id}
    if type_ is not None:
        query["type"] = type_
    if cursor:
        created_at, last_id = _cursor_position(cursor, scope)
        query["$or"] = [
            {"createdAt": {"$lt": created_at}},
            {"createdAt": created_at, "_id": {"$lt": last_id}},
        ]
    documents = (
        await Transaction.get_pymongo_collection()
        .find(query)
        .sort([("createdAt", -1), ("_id", -1)])
        .limit(limit + 1)
        .to_list()
    )
    items = [TransactionRecord.from_document(document) for document in documents[:limit]]
    next_cursor = None
    if len(documents) > limit:
        last = items[-1]
        next_cursor = encode_cursor(scope, [last.created_at.isoformat(), last.id])
    return TransactionPageResult(items=items, next_cursor=next_cursor)


async def _ledger_sums(user_ids: list[int] | None) -> dict[int, tuple[int, int]]:
    match: dict[str, Any] = {} if user_ids is None else {"userId": {"$in": user_ids}}
    pipeline: list[dict[str, Any]] = [
        {"$match": match},
        {
            "$group": {
                "_id": "$userId",
                "amount": {"$sum": "$amount"},
                "tokenAmount": {"$sum": "$tokenAmount"},
            }
        },
    ]
    cursor = await Transaction.get_pymongo_collection().aggregate(pipeline)
    return {int(row["_id"]): (int(row["amount"]), int(row["tokenAmount"])) async for row in cursor}


def _audit(user_id: int, wallet: Mapping[str, Any] | None, sums: tuple[int, int]) -> WalletAuditOut:
    balance = int(wallet.get("balance", 0)) if wallet else 0
    token_balance = int(wallet.get("tokenBalance", 0)) if wallet else 0
    return WalletAuditOut(
        user_id=user_id,
        balance=balance,
        token_balance=token_balance,
        ledger_balance=sums[0],
        ledger_token_balance=sums[1],
        drift=(balance, token_balance) != sums,
    )


async def audit_wallet(user_id: int) -> WalletAuditOut:
    """Recompute the user's balances from their transactions and compare with the wallet. A
    user without a wallet and without transactions audits as zero, no drift."""
    wallet = await Wallet.get_pymongo_collection().find_one({"userId": user_id})
    sums = (await _ledger_sums([user_id])).get(user_id, (0, 0))
    return _audit(user_id, wallet, sums)


async def audit_all_wallets() -> list[WalletAuditOut]:
    """Every wallet, and every user with transactions but no wallet (that alone is drift)."""
    sums = await _ledger_sums(None)
    wallets = {
        int(document["userId"]): document
        async for document in Wallet.get_pymongo_collection().find({})
    }
    return [
        _audit(user_id, wallets.get(user_id), sums.get(user_id, (0, 0)))
        for user_id in sorted(set(wallets) | set(sums))
    ]


async def wallet_deletion_blocker(user_id: int) -> str | None:
    """Money in the wallet blocks the account's deletion (it must be withdrawn or settled
    first); tokens do not (see `token_balance_of`)."""
    found = await Wallet.get_pymongo_collection().count_documents(
        {"userId": user_id, "balance": {"$gt": 0}}, limit=1
    )
    return "WALLET_NOT_EMPTY" if found else None


async def token_balance_of(user_id: int) -> int:
    wallet = await find_wallet(user_id)
    return wallet.token_balance if wallet else 0
