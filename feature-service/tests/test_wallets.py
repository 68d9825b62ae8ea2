"""Wallets and the ledger (issue 9, first part): the ledger primitive and its invariant under
concurrency, the wallet endpoints, the audit (API and CLI), user.registered and the deletion
check. Every test asserts the database, not just the response."""

from __future__ import annotations

import asyncio
import io
import random
from typing import Any

import pytest
from auth_support import admin_token, bearer, user_token
from core_stub import CoreStub
from internal_support import ACCEPT_KEYS, event, signed
from pymongo.asynchronous.client_session import AsyncClientSession
from replies_support import TickingClock
from support import MakeClient, assert_problem

from alephdraad_contracts import (
    UNPROCESSABLE_CONTENT,
    USER_REGISTERED,
    VALIDATION_FAILED,
    ProblemType,
    new_event_id,
)
from alephdraad_feature.auth.errors import TokenInvalid
from alephdraad_feature.internal.holdings import blocking_reasons, count_holdings
from alephdraad_feature.manage import run_command
from alephdraad_feature.platform.db import MongoDatabase
from alephdraad_feature.settings import Settings
from alephdraad_feature.wallets.errors import (
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_TOKENS,
    InsufficientBalance,
    InsufficientTokens,
)
from alephdraad_feature.wallets.selectors import TransactionRecord, audit_wallet
from alephdraad_feature.wallets.services import do_post_transaction

WALLET = "/api/v1/wallet"
TRANSACTIONS = "/api/v1/wallet/transactions"


def _user_id() -> int:
    # Tests share one database: a random id keeps each test's wallet its own.
    return random.randint(10**9, 2**53)


def _member(user_id: int) -> dict[str, str]:
    return bearer(user_token(user_id, f"u{user_id % 10**8}"))


async def _post(
    mongo: MongoDatabase, user_id: int, type_: str, amount: int, token_amount: int = 0
) -> TransactionRecord:
    async def post(session: AsyncClientSession) -> TransactionRecord:
        return await do_post_transaction(
            session,
            user_id=user_id,
            type=type_,
            amount=amount,
            token_amount=token_amount,
            description=f"{type_} {amount}",
        )

    async with mongo.client.start_session() as session:
        result: TransactionRecord = await session.with_transaction(post)
    return result


async def _wallet(mongo: MongoDatabase, user_id: int) -> dict[str, Any] | None:
    return await mongo.database["wallets"].find_one({"userId": user_id})


async def _transactions(mongo: MongoDatabase, user_id: int) -> list[dict[str, Any]]:
    return await mongo.database["transactions"].find({"userId": user_id}).sort("_id", 1).to_list()


# ---- the ledger primitive ---------------------------------------------------------------------


async def test_credits_and_debits_record_balance_after_values(mongo: MongoDatabase) -> None:
    user_id = _user_id()
    topup = await _post(mongo, user_id, "topup", 100_000)
    purchase = await _post(mongo, user_id, "token_purchase", -50_000, 10_500)
    usage = await _post(mongo, user_id, "chat_usage", 0, -500)

    assert topup.id.startswith("txn_")
    assert topup.wallet_id.startswith("wal_")
    assert (topup.balance_after, topup.token_balance_after) == (100_000, 0)
    assert (purchase.balance_after, purchase.token_balance_after) == (50_000, 10_500)
    assert (usage.balance_after, usage.token_balance_after) == (50_000, 10_000)
    wallet = await _wallet(mongo, user_id)
    assert wallet is not None
    assert (wallet["balance"], wallet["tokenBalance"]) == (50_000, 10_000)
    assert wallet["_id"] == topup.wallet_id
    stored = await _transactions(mongo, user_id)
    assert [doc["type"] for doc in stored] == ["topup", "token_purchase", "chat_usage"]
    # Every seed field is there, plus the balance-after values.
    assert set(stored[1]) >= {
        "_id", "userId", "walletId", "type", "amount", "tokenAmount", "description",
        "createdAt", "balanceAfter", "tokenBalanceAfter",
    }  # fmt: skip
    assert (stored[1]["amount"], stored[1]["tokenAmount"]) == (-50_000, 10_500)
    audit = await audit_wallet(user_id)
    assert audit.drift is False
    assert (audit.ledger_balance, audit.ledger_token_balance) == (50_000, 10_000)


async def test_a_debit_the_balance_cannot_cover_writes_nothing(mongo: MongoDatabase) -> None:
    user_id = _user_id()
    await _post(mongo, user_id, "topup", 10_000, 100)
    before = await _wallet(mongo, user_id)

    with pytest.raises(InsufficientBalance):
        await _post(mongo, user_id, "token_purchase", -10_001, 500)
    with pytest.raises(InsufficientTokens):
        await _post(mongo, user_id, "chat_usage", 0, -101)
    # Both conditions hold or nothing moves: rupiah covered, tokens not.
    with pytest.raises(InsufficientTokens):
        await _post(mongo, user_id, "adjustment", -1, -101)

    assert await _wallet(mongo, user_id) == before
    assert len(await _transactions(mongo, user_id)) == 1


async def test_a_debit_on_a_missing_wallet_creates_nothing(mongo: MongoDatabase) -> None:
    user_id = _user_id()
    with pytest.raises(InsufficientBalance):
        await _post(mongo, user_id, "token_purchase", -1)
    # The lazy creation was part of the aborted transaction.
    assert await _wallet(mongo, user_id) is None
    assert await _transactions(mongo, user_id) == []


async def test_fifty_concurrent_debits_against_a_balance_for_ten(mongo: MongoDatabase) -> None:
    user_id = _user_id()
    price = 50_000
    await _post(mongo, user_id, "topup", 10 * price)

    outcomes = await asyncio.gather(
        *(_post(mongo, user_id, "token_purchase", -price, 10_500) for _ in range(50)),
        return_exceptions=True,
    )

    succeeded = [o for o in outcomes if isinstance(o, TransactionRecord)]
    refused = [o for o in outcomes if isinstance(o, InsufficientBalance)]
    assert len(succeeded) == 10
    assert len(refused) == 40, [o for o in outcomes if not isinstance(o, TransactionRecord)]
    wallet = await _wallet(mongo, user_id)
    assert wallet is not None
    assert (wallet["balance"], wallet["tokenBalance"]) == (0, 10 * 10_500)
    stored = await _transactions(mongo, user_id)
    assert len(stored) == 11
    assert sum(doc["amount"] for doc in stored) == wallet["balance"]
    assert sum(doc["tokenAmount"] for doc in stored) == wallet["tokenBalance"]
    # No entry ever saw a negative balance, and the balance-after values are a strict sequence:
    # each debit started from the one before it (no two read the same balance).
    afters = sorted((doc["balanceAfter"] for doc in stored), reverse=True)
    assert afters == [10 * price - i * price for i in range(11)]
    assert (await audit_wallet(user_id)).drift is False


# ---- the endpoints ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


async def test_get_wallet_creates_it_lazily_once(
    make_client: MakeClient, mongo: MongoDatabase, clock: TickingClock
) -> None:
    user_id = _user_id()
    async with make_client(clock=clock) as client:
        first = await client.get(WALLET, headers=_member(user_id))
        second = await client.get(WALLET, headers=_member(user_id))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "balance": 0,
        "token_balance": 0,
        "updated_at": first.json()["updated_at"],
    }
    assert second.json() == first.json()
    assert await mongo.database["wallets"].count_documents({"userId": user_id}) == 1
    wallet = await _wallet(mongo, user_id)
    assert wallet is not None
    assert wallet["_id"].startswith("wal_")


async def test_get_wallet_shows_the_balances(make_client: MakeClient, mongo: MongoDatabase) -> None:
    user_id = _user_id()
    await _post(mongo, user_id, "topup", 75_000, 20)
    async with make_client() as client:
        response = await client.get(WALLET, headers=_member(user_id))
    assert response.status_code == 200, response.text
    assert response.json()["balance"] == 75_000
    assert response.json()["token_balance"] == 20


async def test_wallet_routes_need_a_member_token(make_client: MakeClient) -> None:
    async with make_client() as client:
        missing = await client.get(WALLET)
        admin = await client.get(TRANSACTIONS, headers=bearer(admin_token(1)))
    assert missing.status_code == 401
    assert_problem(admin, TokenInvalid.problem_type)


async def test_transactions_page_newest_first_with_type_filter(
    make_client: MakeClient, mongo: MongoDatabase
) -> None:
    user_id = _user_id()
    other = _user_id()
    await _post(mongo, other, "topup", 1)
    posted = [await _post(mongo, user_id, "topup", 1_000 + i) for i in range(5)]
    posted += [await _post(mongo, user_id, "chat_usage", -1) for _ in range(2)]
    newest_first = [t.id for t in reversed(posted)]

    async with make_client() as client:
        headers = _member(user_id)
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params: dict[str, Any] = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = await client.get(TRANSACTIONS, params=params, headers=headers)
            assert page.status_code == 200, page.text
            seen += [item["id"] for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        filtered = await client.get(TRANSACTIONS, params={"type": "chat_usage"}, headers=headers)
        topups = await client.get(
            TRANSACTIONS, params={"type": "topup", "limit": 2}, headers=headers
        )
        # A cursor of the topup list replayed on the unfiltered list is refused.
        replayed = await client.get(
            TRANSACTIONS, params={"cursor": topups.json()["next_cursor"]}, headers=headers
        )

    assert seen == newest_first
    items = filtered.json()["items"]
    assert [item["id"] for item in items] == newest_first[:2]
    assert items[0] == {
        "id": posted[-1].id,
        "type": "chat_usage",
        "amount": -1,
        "token_amount": 0,
        "description": "chat_usage -1",
        "balance_after": sum(1_000 + i for i in range(5)) - 2,
        "token_balance_after": 0,
        "created_at": items[0]["created_at"],
    }
    assert filtered.json()["next_cursor"] is None
    assert [item["id"] for item in topups.json()["items"]] == [posted[4].id, posted[3].id]
    assert_problem(replayed, VALIDATION_FAILED)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        # Out-of-range values break a rule (422, the service's convention for limit).
        ({"limit": 0}, UNPROCESSABLE_CONTENT),
        ({"limit": 101}, UNPROCESSABLE_CONTENT),
        ({"limit": "x"}, VALIDATION_FAILED),
        ({"type": "bonus"}, VALIDATION_FAILED),
        ({"cursor": "not-a-cursor"}, VALIDATION_FAILED),
        ({"cursor": "x" * 600}, UNPROCESSABLE_CONTENT),
    ],
)
async def test_bad_transaction_queries_are_4xx(
    make_client: MakeClient, mongo: MongoDatabase, params: dict[str, Any], problem: ProblemType
) -> None:
    user_id = _user_id()
    async with make_client() as client:
        response = await client.get(TRANSACTIONS, params=params, headers=_member(user_id))
    assert_problem(response, problem)
    # Reading the ledger never creates anything.
    assert await _wallet(mongo, user_id) is None


def test_insufficient_problem_types_are_402() -> None:
    assert INSUFFICIENT_BALANCE.status == INSUFFICIENT_TOKENS.status == 402
    assert (INSUFFICIENT_BALANCE.code, INSUFFICIENT_TOKENS.code) == (
        "INSUFFICIENT_BALANCE",
        "INSUFFICIENT_TOKENS",
    )


# ---- the audit --------------------------------------------------------------------------------


async def _cli(argv: list[str], settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_command(argv, settings=settings, out=out)
    return code, out.getvalue()


async def test_the_audit_finds_no_drift_then_reports_forced_drift(
    make_client: MakeClient, mongo: MongoDatabase, settings: Settings
) -> None:
    user_id = _user_id()
    await _post(mongo, user_id, "topup", 60_000)
    await _post(mongo, user_id, "token_purchase", -50_000, 10_500)
    path = f"/api/v1/admin/wallets/{user_id}/audit"
    expected = {
        "user_id": user_id,
        "balance": 10_000,
        "token_balance": 10_500,
        "ledger_balance": 10_000,
        "ledger_token_balance": 10_500,
        "drift": False,
    }

    async with make_client() as client:
        clean = await client.get(path, headers=bearer(admin_token(1)))
        member = await client.get(path, headers=_member(user_id))
        anonymous = await client.get(path)
        bad_id = await client.get("/api/v1/admin/wallets/0/audit", headers=bearer(admin_token(1)))
    assert clean.status_code == 200, clean.text
    assert clean.json() == expected
    assert_problem(member, TokenInvalid.problem_type)
    assert anonymous.status_code == 401
    assert_problem(bad_id, UNPROCESSABLE_CONTENT)
    code, output = await _cli(["wallets", "audit", "--user", str(user_id), "--json"], settings)
    assert code == 0, output
    assert '"drift": false' in output

    # Someone edits the wallet behind the ledger's back.
    await mongo.database["wallets"].update_one({"userId": user_id}, {"$inc": {"balance": 5}})

    async with make_client() as client:
        drifted = await client.get(path, headers=bearer(admin_token(1)))
    assert drifted.json() == {**expected, "balance": 10_005, "drift": True}
    code, output = await _cli(["wallets", "audit", "--user", str(user_id)], settings)
    assert code == 1
    assert f"user {user_id}:" in output
    assert "DRIFT" in output
    # The whole-collection audit finds it too.
    code, output = await _cli(["wallets", "audit", "--json"], settings)
    assert code == 1
    assert str(user_id) in output


# ---- core's events and the deletion check -------------------------------------------------------


async def test_user_registered_creates_the_wallet_once(
    make_client: MakeClient, mongo: MongoDatabase, core_stub: CoreStub, clock: TickingClock
) -> None:
    user_id = _user_id()
    envelope = event(new_event_id(), USER_REGISTERED, {"user_id": user_id, "username": "baru"})
    async with make_client(
        clock=clock, **core_stub.settings_overrides(feature_internal_accept_keys=ACCEPT_KEYS)
    ) as client:
        first = await client.send(
            signed("POST", "/internal/v1/events", body=envelope, created=clock.now)
        )
        again = await client.send(
            signed("POST", "/internal/v1/events", body=envelope, created=clock.now)
        )
        other_id = event(new_event_id(), USER_REGISTERED, {"user_id": user_id, "username": "baru"})
        third = await client.send(
            signed("POST", "/internal/v1/events", body=other_id, created=clock.now)
        )
        wallet = await client.get(WALLET, headers=_member(user_id))
    assert [r.status_code for r in (first, again, third)] == [200, 200, 200], again.text
    assert await mongo.database["wallets"].count_documents({"userId": user_id}) == 1
    assert wallet.json()["balance"] == 0


async def test_money_in_the_wallet_blocks_deletion_tokens_do_not(
    make_client: MakeClient, mongo: MongoDatabase, core_stub: CoreStub, clock: TickingClock
) -> None:
    user_id = _user_id()
    await _post(mongo, user_id, "topup", 50_000)
    await _post(mongo, user_id, "token_purchase", -50_000, 10_500)
    assert "WALLET_NOT_EMPTY" not in await blocking_reasons(user_id)
    assert (await count_holdings(user_id))["token_balance"] == 10_500

    await _post(mongo, user_id, "topup", 1)
    async with make_client(
        clock=clock, **core_stub.settings_overrides(feature_internal_accept_keys=ACCEPT_KEYS)
    ) as client:
        response = await client.send(
            signed("GET", f"/internal/v1/users/{user_id}/deletion-check", created=clock.now)
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["can_delete"] is False
    assert body["blocking_reasons"] == ["WALLET_NOT_EMPTY"]
    assert body["holdings"]["token_balance"] == 10_500
