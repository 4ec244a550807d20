"""Per-testbed PKI: chains verify, EKUs are right, ensure() is idempotent, expiry is real."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import DNSName, PolicyBuilder, Store, VerificationError

from orchestrator.deploy.pki import (
    UPN_OID,
    Pki,
    issue_client_cert,
    issue_server_cert,
    load_credential,
    make_ca,
    write_pem,
)

SERVER = "radius.testbed.example"
CLIENT = "user@realm"
OPENSSL = shutil.which("openssl")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _openssl_verify(ca_pem, leaf_pem, purpose: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(ca_pem), "-purpose", purpose, str(leaf_pem)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def ca():
    return make_ca("Testbed CA")


def test_server_chain_verifies_with_cryptography(ca):
    server = issue_server_cert(ca, SERVER)
    verifier = PolicyBuilder().store(Store([ca.cert])).time(_now()).build_server_verifier(
        DNSName(SERVER)
    )
    chain = verifier.verify(server.cert, [])
    assert chain[-1] == ca.cert


def test_client_chain_verifies_with_cryptography(ca):
    client = issue_client_cert(ca, CLIENT)
    verified = PolicyBuilder().store(Store([ca.cert])).time(_now()).build_client_verifier().verify(
        client.cert, []
    )
    assert x509.RFC822Name(CLIENT) in verified.subjects


def test_ekus_and_names(ca):
    server = issue_server_cert(ca, SERVER)
    client = issue_client_cert(ca, CLIENT)
    assert _eku(server.cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert _eku(client.cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    san = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [SERVER]
    san = client.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [CLIENT]
    (upn,) = [o for o in san.get_values_for_type(x509.OtherName) if o.type_id == UPN_OID]
    assert upn.value == b"\x0c" + bytes([len(CLIENT)]) + CLIENT.encode()
    assert client.cert.subject.rfc4514_string() == f"CN={CLIENT}"
    bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert not server.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_wrong_purpose_is_refused(ca):
    server = issue_server_cert(ca, SERVER)
    with pytest.raises(VerificationError, match="EKU"):
        PolicyBuilder().store(Store([ca.cert])).time(_now()).build_client_verifier().verify(
            server.cert, []
        )


@pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
def test_openssl_verify_accepts_chain_and_checks_purpose(tmp_path, ca):
    ca_files = write_pem(tmp_path, "ca", ca.cert, ca.key)
    server = issue_server_cert(ca, SERVER)
    client = issue_client_cert(ca, CLIENT)
    s = write_pem(tmp_path, "server", server.cert, server.key)
    c = write_pem(tmp_path, "client", client.cert, client.key)
    assert _openssl_verify(ca_files.cert, s.cert, "sslserver").returncode == 0
    assert _openssl_verify(ca_files.cert, c.cert, "sslclient").returncode == 0
    wrong = _openssl_verify(ca_files.cert, s.cert, "sslclient")
    assert wrong.returncode != 0 and "unsuitable certificate purpose" in wrong.stdout + wrong.stderr


def test_foreign_ca_does_not_verify(ca):
    foreign = make_ca("Foreign CA")
    client = issue_client_cert(foreign, CLIENT)
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([ca.cert])).time(_now()).build_client_verifier().verify(
            client.cert, []
        )


def test_expired_client_cert_is_really_expired(tmp_path, ca):
    expired = issue_client_cert(ca, CLIENT, days=1, not_before=_now() - dt.timedelta(days=10))
    assert expired.cert.not_valid_after_utc < _now()
    with pytest.raises(VerificationError, match="not valid"):
        PolicyBuilder().store(Store([ca.cert])).time(_now()).build_client_verifier().verify(
            expired.cert, []
        )
    if OPENSSL:
        ca_files = write_pem(tmp_path, "ca", ca.cert, ca.key)
        files = write_pem(tmp_path, "expired", expired.cert, expired.key)
        result = _openssl_verify(ca_files.cert, files.cert, "sslclient")
        assert result.returncode != 0
        assert "certificate has expired" in result.stdout + result.stderr


def test_write_pem_key_is_private_and_loads_back(tmp_path, ca):
    files = write_pem(tmp_path / "sub", "ca", ca.cert, ca.key)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    loaded = load_credential(files)
    assert loaded.cert == ca.cert
    assert loaded.key.private_numbers() == ca.key.private_numbers()


@pytest.mark.parametrize("name", ["", "a/b", "..", "."])
def test_write_pem_refuses_bad_names(tmp_path, ca, name):
    with pytest.raises(ValueError):
        write_pem(tmp_path, name, ca.cert, ca.key)


def test_rsa_2048_option():
    ca = make_ca("RSA CA", algorithm="rsa2048")
    leaf = issue_server_cert(ca, SERVER, algorithm="rsa2048")
    assert isinstance(leaf.key, rsa.RSAPrivateKey) and leaf.key.key_size == 2048
    assert leaf.cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment
    assert isinstance(make_ca("EC CA").key, ec.EllipticCurvePrivateKey)


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_ensure_is_idempotent(tmp_path):
    pki = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    assert set(pki.servers) == {SERVER} and set(pki.clients) == {CLIENT}
    before = _snapshot(tmp_path)
    assert set(before) == {
        "ca.pem",
        "ca.key",
        f"server-{SERVER}.pem",
        f"server-{SERVER}.key",
        f"client-{CLIENT}.pem",
        f"client-{CLIENT}.key",
    }
    again = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    assert again == pki
    assert _snapshot(tmp_path) == before


def test_ensure_creates_only_what_is_missing(tmp_path):
    pki = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    before = _snapshot(tmp_path)
    pki.clients[CLIENT].cert.unlink()
    pki2 = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT, "other@realm"])
    after = _snapshot(tmp_path)
    for name in ("ca.pem", "ca.key", f"server-{SERVER}.pem", f"server-{SERVER}.key"):
        assert after[name] == before[name]
    assert after[f"client-{CLIENT}.pem"] != before[f"client-{CLIENT}.pem"]
    ca = pki2.load_ca()
    for files in list(pki2.clients.values()) + list(pki2.servers.values()):
        load_credential(files).cert.verify_directly_issued_by(ca.cert)


def test_ensure_reissues_leaves_for_a_new_ca(tmp_path):
    pki = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    old_server = pki.servers[SERVER].cert.read_bytes()
    pki.ca.key.unlink()
    pki2 = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    assert pki2.servers[SERVER].cert.read_bytes() != old_server
    ca = pki2.load_ca()
    load_credential(pki2.servers[SERVER]).cert.verify_directly_issued_by(ca.cert)
    load_credential(pki2.clients[CLIENT]).cert.verify_directly_issued_by(ca.cert)


def test_ensure_replaces_an_expired_leaf(tmp_path):
    pki = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    ca = pki.load_ca()
    expired = issue_client_cert(ca, CLIENT, days=1, not_before=_now() - dt.timedelta(days=5))
    write_pem(tmp_path, f"client-{CLIENT}", expired.cert, expired.key)
    pki2 = Pki.ensure(tmp_path, "Testbed CA", [SERVER], [CLIENT])
    assert load_credential(pki2.clients[CLIENT]).cert.not_valid_after_utc > _now()
