"""Writing wallets: the ledger primitive and the wallet's creation.

The original system (reference 2.9) read a balance, changed it in application code and wrote it
back, with the transaction record as a separate write: two concurrent purchases could both pass
the check, and a crash between the writes lost money or the record. Here every balance change is
`do_post_transaction`, inside the caller's MongoDB transaction:

1. one conditional server-side update: `$inc` the balances only if they cover the debit
   (`balance >= -amount`); no Python arithmetic on a balance ever reaches the database;
2. read the balances the update produced (same session, so our own write);
3. insert the transaction with those balance-after values.

Concurrent posts on one wallet are serialised by MongoDB's write conflicts: the loser's
transaction aborts with TransientTransactionError and `with_transaction` runs it again from
the start against the new balance. A debit the balance cannot cover matches nothing and raises
before anything is written; the caller's transaction is then aborted as a whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from alephdraad_contracts import new_ulid
from alephdraad_feature.platform.db import collection_in_session
from alephdraad_feature.wallets.errors import InsufficientBalance, InsufficientTokens
from alephdraad_feature.wallets.models import Transaction, Wallet
from alephdraad_feature.wallets.selectors import TransactionRecord, WalletRecord


def new_wallet_id() -> str:
    return f"wal_{new_ulid()}"


def new_transaction_id() -> str:
    return f"txn_{new_ulid()}"


def _wallet_insert(user_id: int, now: datetime) -> dict[str, Any]:
    return {
        "_id": new_wallet_id(),
        "userId": user_id,
        "balance": 0,
        "tokenBalance": 0,
        "createdAt": now,
        "updatedAt": now,
    }


async def do_ensure_wallet(
    user_id: int, session: AsyncClientSession, *, now: datetime
) -> WalletRecord:
    """The user's wallet, created empty if missing (an upsert: a second run, a redelivered
    user.registered or a lazy creation racing it changes nothing)."""
    wallets = collection_in_session(Wallet, session)
    try:
        document = await wallets.find_one_and_update(
            {"userId": user_id},
            {"$setOnInsert": _wallet_insert(user_id, now)},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
    except DuplicateKeyError:
        # Two upserts raced and the unique index refused the second insert: the wallet exists
        # now. Inside a transaction the server has aborted it, so only the transaction's retry
        # (TransientTransactionError / a fresh attempt) may read again: let it propagate.
        if session.in_transaction:
            raise
        document = await wallets.find_one({"userId": user_id}, session=session)
    assert document is not None
    return WalletRecord.from_document(document)


async def do_get_or_create_wallet(
    client: AsyncMongoClient[dict[str, Any]], user_id: int, *, now: datetime
) -> WalletRecord:
    """The lazy path of GET /wallet. Without a transaction: the upsert is one atomic write."""
    async with client.start_session() as session:
        return await do_ensure_wallet(user_id, session, now=now)


async def do_post_transaction(
    session: AsyncClientSession,
    *,
    user_id: int,
    type: str,  # the seed's field name
    amount: int,
    token_amount: int,
    description: str,
    now: datetime | None = None,
) -> TransactionRecord:
    """Apply a signed change (`amount` rupiah, `token_amount` tokens; negative = debit) to the
    user's wallet and record it, inside the caller's transaction (`session` must be in one).

    Raises InsufficientBalance / InsufficientTokens (402) when a debit cannot be covered;
    nothing is written then."""
    if not session.in_transaction:
        raise RuntimeError("do_post_transaction must run inside a MongoDB transaction")
    now = now or datetime.now(UTC)
    wallet = await do_ensure_wallet(user_id, session, now=now)
    wallets = collection_in_session(Wallet, session)
    # The conditions let a debit through only if the stored balance covers it at the moment
    # of the write; credits (negative bound) always match.
    updated = await wallets.find_one_and_update(
        {
            "_id": wallet.id,
            "balance": {"$gte": -amount},
            "tokenBalance": {"$gte": -token_amount},
        },
        {"$inc": {"balance": amount, "tokenBalance": token_amount}, "$set": {"updatedAt": now}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if updated is None:
        current = await wallets.find_one({"_id": wallet.id}, session=session)
        assert current is not None
        if current["balance"] + amount < 0:
            raise InsufficientBalance(
                f"This needs Rp {-amount:,}; the wallet holds Rp {current['balance']:,}."
            )
        raise InsufficientTokens(
            f"This needs {-token_amount:,} tokens; the wallet holds {current['tokenBalance']:,}."
        )
    document = {
        "_id": new_transaction_id(),
        "userId": user_id,
        "walletId": wallet.id,
        "type": type,
        "amount": amount,
        "tokenAmount": token_amount,
        "description": description,
        "balanceAfter": updated["balance"],
        "tokenBalanceAfter": updated["tokenBalance"],
        "createdAt": now,
    }
    await collection_in_session(Transaction, session).insert_one(document, session=session)
    return TransactionRecord.from_document(document)
