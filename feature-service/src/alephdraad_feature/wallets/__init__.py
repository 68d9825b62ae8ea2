"""Wallets and the ledger (issue 9, first part): balances, append-only transactions, audit."""
