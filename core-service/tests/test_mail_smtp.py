"""SMTP_URL handling in send_via_smtp against real servers: STARTTLS, implicit TLS (smtps://),
AUTH with percent-encoded credentials, and certificate verification of the mail server
(ASVS 5.0 V12.3: outbound TLS connections verify the server's certificate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mail.services import deliver_due_mail, enqueue_mail
from tests.foundation_support import LOCALHOST, Pki, Received, make_pki, start_auth_server

pytestmark = [
    pytest.mark.django_db,
    # aiosmtpd warns about AUTH without STARTTLS for each connection to the smtps:// server;
    # it does not apply there: the whole connection is TLS.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

USER = "mailer@alephdraad.example"
# Every character here has a meaning in a URL, so each must arrive percent-decoded.
PASSWORD = "p@ss:w/rd%?#"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("smtp-pki"))


@pytest.fixture
def trust_test_ca(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the default trust store (ssl.create_default_context) the test CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def distrust_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A default trust store that contains no CA at all, so no server certificate verifies."""
    empty = tmp_path / "no-cas.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))


def _serve(pki: Pki, *, implicit_tls: bool) -> Iterator[tuple[Received, int]]:
    received = Received()
    controller = start_auth_server(
        received,
        user=USER,
        password=PASSWORD,
        tls=pki.server_context(),
        implicit_tls=implicit_tls,
    )
    try:
        yield received, controller.port
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(pki: Pki) -> Iterator[tuple[Received, int]]:
    yield from _serve(pki, implicit_tls=False)


@pytest.fixture
def smtps_server(pki: Pki) -> Iterator[tuple[Received, int]]:
    yield from _serve(pki, implicit_tls=True)


def _url(scheme: str, port: int, user: str = USER, password: str = PASSWORD) -> str:
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{LOCALHOST}:{port}"


def _enqueue() -> OutgoingMail:
    return enqueue_mail(kind="verify_email", to="mira@example.com", subject="Hi", body="Body")


@pytest.mark.usefixtures("trust_test_ca")
def test_asvs_12_3_smtp_url_upgrades_with_starttls_and_logs_in_with_decoded_credentials(
    starttls_server: tuple[Received, int], settings: Any
) -> None:
    received, port = starttls_server
    settings.SMTP_URL = _url("smtp", port)
    assert "%40" in settings.SMTP_URL
    assert "%25" in settings.SMTP_URL
    mail = _enqueue()

    assert deliver_due_mail() == 1

    assert received.logins == [(USER, PASSWORD)]
    [message] = received.messages
    assert message["tls"] is True
    assert message["authenticated"] is True
    assert message["rcpt_tos"] == ["mira@example.com"]
    assert b"X-Alephdraad-Mail-Kind: verify_email" in message["content"]
    assert OutgoingMail.objects.get(pk=mail.pk).status == OutgoingMail.Status.SENT


@pytest.mark.usefixtures("trust_test_ca")
def test_asvs_12_3_smtps_url_uses_implicit_tls_and_logs_in(
    smtps_server: tuple[Received, int], settings: Any
) -> None:
    received, port = smtps_server
    settings.SMTP_URL = _url("smtps", port)
    mail = _enqueue()

    assert deliver_due_mail() == 1

    assert received.logins == [(USER, PASSWORD)]
    [message] = received.messages
    assert message["authenticated"] is True
    assert message["login"] == USER.encode()
    assert OutgoingMail.objects.get(pk=mail.pk).status == OutgoingMail.Status.SENT


@pytest.mark.usefixtures("distrust_everything")
@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_asvs_12_3_an_unverifiable_mail_server_gets_no_credentials_and_no_mail(
    scheme: str, request: pytest.FixtureRequest, settings: Any
) -> None:
    server = "starttls_server" if scheme == "smtp" else "smtps_server"
    received, port = request.getfixturevalue(server)
    settings.SMTP_URL = _url(scheme, port)
    mail = _enqueue()

    assert deliver_due_mail() == 0

    assert received.logins == []
    assert received.messages == []
    row = OutgoingMail.objects.get(pk=mail.pk)
    assert row.status == OutgoingMail.Status.PENDING
    assert row.attempts == 1
    assert row.last_error.startswith("SSLCertVerificationError:")


@pytest.mark.usefixtures("trust_test_ca")
def test_rejected_credentials_are_recorded_and_retried(
    starttls_server: tuple[Received, int], settings: Any
) -> None:
    received, port = starttls_server
    settings.SMTP_URL = _url("smtp", port, password="wrong")
    mail = _enqueue()

    assert deliver_due_mail() == 0

    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN).
    assert received.logins
    assert set(received.logins) == {(USER, "wrong")}
    assert received.messages == []
    row = OutgoingMail.objects.get(pk=mail.pk)
    assert (row.status, row.attempts) == (OutgoingMail.Status.PENDING, 1)
    assert row.last_error.startswith("SMTPAuthenticationError:")
