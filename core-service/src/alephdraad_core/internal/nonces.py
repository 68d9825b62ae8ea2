"""The receiver's NonceStore, in PostgreSQL, shared by every replica."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from alephdraad_core.internal.models import SignatureNonce

_TABLE = SignatureNonce._meta.db_table
_REMEMBER_SQL = (
    f"INSERT INTO {_TABLE} (nonce, expires_at) VALUES (%s, %s) "  # noqa: S608 - constant table
    "ON CONFLICT (nonce) DO NOTHING RETURNING nonce"
)


class PostgresNonceStore:
    """`remember` is one `INSERT … ON CONFLICT DO NOTHING`: of two requests racing with the
    same nonce (on any replicas), exactly one inserts the row and the other sees a replay."""

    def remember(self, nonce: str, expires_at: datetime) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(_REMEMBER_SQL, [nonce, expires_at])
            return cursor.fetchone() is not None


def purge_expired_nonces(now: datetime) -> int:
    """Forget nonces whose signatures are stale by now (run by the worker's housekeeping)."""
    deleted, _ = SignatureNonce.objects.filter(expires_at__lte=now).delete()
    return deleted
