"""Helpers for the tests of the foundation modules (test_mail_*, test_keys_*).

Mail: a real SMTP sink, its mailbox, TLS servers. Keys: a key-set file the keyring reads for
the length of one test.

Success paths talk to the launcher's SMTP sink (a separate process that writes each message it
receives as `<stem>.eml` plus a `<stem>.json` envelope). The TLS/AUTH paths use an in-process
aiosmtpd server (the library the sink is built on) with a throwaway CA, because the sink speaks
neither STARTTLS nor AUTH.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from alephdraad_core.authn.keys import clear_keyring_cache, new_key_entry, write_key_file
from alephdraad_stack.ports import pick_free_port
from alephdraad_stack.servers import start_smtp_sink

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class Delivered:
    """One message as the sink stored it: the parsed .eml and its envelope."""

    message: EmailMessage
    envelope: dict[str, Any]


class Mailbox:
    """The sink's mail directory (emptied before each test) and its smtp:// URL."""

    def __init__(self, mail_dir: Path, url: str) -> None:
        self.mail_dir = mail_dir
        self.url = url

    def clear(self) -> None:
        for path in self.mail_dir.iterdir():
            path.unlink()

    def messages(self) -> list[Delivered]:
        delivered = []
        for eml in sorted(self.mail_dir.glob("*.eml")):
            message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
            assert isinstance(message, EmailMessage)
            envelope = json.loads(eml.with_suffix(".json").read_text())
            delivered.append(Delivered(message, envelope))
        return delivered


@pytest.fixture(scope="module")
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    """The launcher's SMTP sink, one process per test module."""
    base = tmp_path_factory.mktemp("smtp-sink")
    server = start_smtp_sink(base / "mail", base / "logs", pick_free_port())
    try:
        yield Mailbox(base / "mail", server.url)
    finally:
        server.stop()


@pytest.fixture
def mailbox(smtp_sink: Mailbox, settings: Any) -> Mailbox:
    """The sink's mailbox, empty, with SMTP_URL pointing at the sink for this test."""
    settings.SMTP_URL = smtp_sink.url
    smtp_sink.clear()
    return smtp_sink


def closed_port_url() -> str:
    """An smtp:// URL nothing listens on: connecting is refused by the kernel."""
    return f"smtp://{LOCALHOST}:{pick_free_port()}"


@pytest.fixture
def blackhole_smtp_url() -> Iterator[str]:
    """A port that accepts connections (the kernel completes the handshake) but never greets:
    a hung mail server, so the client waits for its timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOCALHOST, 0))
        listener.listen(16)
        yield f"smtp://{LOCALHOST}:{listener.getsockname()[1]}"


@pytest.fixture
def key_file(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """A fresh one-key set in a file the keyring reads for this test only.

    The keyring cache is emptied on both sides; `settings` then restores the session's own key
    file, which the cache reloads on its next use (its source changed).
    """
    path = tmp_path / "keys" / "jwt.json"
    write_key_file(path, [new_key_entry()])
    settings.JWT_KEYS_FILE = str(path)
    settings.JWT_KEYS = None
    clear_keyring_cache()
    yield path
    clear_keyring_cache()


# ---- TLS and AUTH: an in-process aiosmtpd server ------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_pki(directory: Path) -> Pki:
    """A CA and a server certificate for 127.0.0.1 signed by it (ECDSA P-256: fast)."""
    now = dt.datetime.now(tz=dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alephdraad test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCALHOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOCALHOST))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


@dataclass
class Received:
    """What an in-process server saw: AUTH attempts and delivered messages."""

    logins: list[tuple[str, str]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


class RecordingHandler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.messages.append(
            {
                "authenticated": bool(session.authenticated),
                "login": session.login_data,
                "tls": session.ssl is not None,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content or envelope.content,
            }
        )
        return "250 Message accepted for delivery"


def start_auth_server(
    received: Received,
    *,
    user: str,
    password: str,
    tls: ssl.SSLContext,
    implicit_tls: bool,
) -> Controller:
    """An SMTP server that demands AUTH with these credentials, over STARTTLS or implicit TLS."""

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, secret = auth_data.login.decode(), auth_data.password.decode()
        received.logins.append((login, secret))
        if (login, secret) == (user, password):
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: let aiosmtpd answer 535 (handled=True would leave the client waiting).
        return AuthResult(success=False, handled=False)

    options: dict[str, Any] = {
        "hostname": LOCALHOST,
        "port": pick_free_port(),
        "authenticator": authenticator,
        "auth_required": True,
    }
    if implicit_tls:
        # The whole connection is TLS; aiosmtpd's "require TLS" only knows about STARTTLS.
        options |= {"ssl_context": tls, "auth_require_tls": False}
    else:
        options |= {"tls_context": tls, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(RecordingHandler(received), **options)
    controller.start()
    return controller
