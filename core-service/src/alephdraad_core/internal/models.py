"""Nonces of accepted signed requests, kept until their signature could no longer be fresh."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class SignatureNonce(models.Model):
    """One nonce seen in an accepted signature; a second request with it is a replay."""

    nonce = models.CharField(max_length=128, primary_key=True)
    # `created` + 60 s: after that a request carrying this nonce is refused as stale anyway,
    # so the worker's housekeeping may forget it.
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "signature_nonces"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["expires_at"], name="idx_signature_nonces_expires"),
        ]

    def __str__(self) -> str:
        return f"SignatureNonce {self.nonce[:8]}…"
