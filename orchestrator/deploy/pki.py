"""A per-testbed PKI for EAP-TLS, made locally with ``cryptography`` (nothing downloaded).

Who does what: `make_ca`, `issue_server_cert` and `issue_client_cert` build certificates
in memory (RFC 5280 profiles, with the EKUs RFC 5216 s5.3 expects: id-kp-serverAuth for the
EAP server, id-kp-clientAuth for the peer); `write_pem` stores one credential; `Pki.ensure`
keeps a directory holding a CA, server and client credentials, creating only what is
missing or no longer valid.

Keys are ECDSA P-256 by default (fast to generate; FreeRADIUS 3.2, wpa_supplicant and
pyOpenSSL all accept it); ``algorithm="rsa2048"`` gives RSA 2048 instead.

File layout written by `Pki.ensure`::

    ca.pem  ca.key
    server-<cn>.pem  server-<cn>.key
    client-<identity>.pem  client-<identity>.key
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = [
    "KeyAlgorithm",
    "Credential",
    "CredentialFiles",
    "Pki",
    "make_ca",
    "issue_server_cert",
    "issue_client_cert",
    "write_pem",
    "load_credential",
]

KeyAlgorithm = Literal["p256", "rsa2048"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Microsoft User Principal Name otherName, commonly matched by EAP servers.
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
CLOCK_SKEW = dt.timedelta(minutes=5)  # not_before is backdated by this much


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class CredentialFiles:
    """Where a credential lives on disk."""

    cert: Path
    key: Path


def _new_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key algorithm {algorithm!r}; use 'p256' or 'rsa2048'")


def _validity(days: int, not_before: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    if not_before is None:
        not_before = dt.datetime.now(dt.timezone.utc) - CLOCK_SKEW
    elif not_before.tzinfo is None:
        not_before = not_before.replace(tzinfo=dt.timezone.utc)
    return not_before, not_before + dt.timedelta(days=days)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(key: PrivateKey, *, ca: bool) -> x509.KeyUsage:
    """keyCertSign/cRLSign for a CA; digitalSignature (+ keyEncipherment for RSA) for leaves."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=not ca and isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(
    common_name: str,
    days: int = 3650,
    *,
    algorithm: KeyAlgorithm = "p256",
    not_before: dt.datetime | None = None,
) -> Credential:
    """A self-signed root CA (RFC 5280 s4.2.1.9 basicConstraints cA, pathLen 0)."""
    key = _new_key(algorithm)
    start, end = _validity(days, not_before)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key, ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return Credential(cert, key)


def _issue(
    ca: Credential,
    common_name: str,
    san: list[x509.GeneralName],
    eku: x509.ObjectIdentifier,
    days: int,
    not_before: dt.datetime | None,
    algorithm: KeyAlgorithm,
) -> Credential:
    key = _new_key(algorithm)
    start, end = _validity(days, not_before)
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Credential(cert, key)


def issue_server_cert(
    ca: Credential,
    cn: str,
    days: int = 825,
    *,
    algorithm: KeyAlgorithm = "p256",
    not_before: dt.datetime | None = None,
) -> Credential:
    """An EAP server certificate: CN and subjectAltName dNSName = ``cn``, EKU serverAuth
    (RFC 5216 s5.3)."""
    return _issue(
        ca, cn, [x509.DNSName(cn)], ExtendedKeyUsageOID.SERVER_AUTH, days, not_before, algorithm
    )


def _utf8string(text: str) -> bytes:
    """DER UTF8String, the value type of the UPN otherName."""
    raw = text.encode("utf-8")
    n = len(raw)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return b"\x0c" + length + raw


def issue_client_cert(
    ca: Credential,
    identity: str = "user@realm",
    days: int = 365,
    not_before: dt.datetime | None = None,
    *,
    algorithm: KeyAlgorithm = "p256",
) -> Credential:
    """An EAP peer certificate: CN = ``identity``, subjectAltName rfc822Name and UPN
    otherName = ``identity`` (RFC 5216 s5.2 peer identity), EKU clientAuth.

    ``not_before`` and ``days`` give the validity; a ``not_before`` far enough in the past
    produces an already-expired certificate for negative tests.
    """
    san: list[x509.GeneralName] = [x509.OtherName(UPN_OID, _utf8string(identity))]
    if "@" in identity:
        san.insert(0, x509.RFC822Name(identity))
    return _issue(
        ca, identity, san, ExtendedKeyUsageOID.CLIENT_AUTH, days, not_before, algorithm
    )


def write_pem(
    directory: str | os.PathLike[str], name: str, cert: x509.Certificate, key: PrivateKey
) -> CredentialFiles:
    """Write ``<name>.pem`` (certificate) and ``<name>.key`` (PKCS#8, mode 0600)."""
    _check_file_name(name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = CredentialFiles(directory / f"{name}.pem", directory / f"{name}.key")
    credential = Credential(cert, key)
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(credential.key_pem())
    files.cert.write_bytes(credential.cert_pem())
    return files


def load_credential(files: CredentialFiles) -> Credential:
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    return Credential(cert, key)  # type: ignore[arg-type]


def _check_file_name(name: str) -> None:
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        raise ValueError(f"{name!r} cannot be used as a file name in the PKI directory")


def _still_good(files: CredentialFiles, ca: Credential) -> bool:
    """Both files exist, the certificate is valid now and was issued by ``ca``'s key."""
    if not (files.cert.is_file() and files.key.is_file()):
        return False
    try:
        cred = load_credential(files)
        cred.cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):  # unreadable or foreign: re-make it
        return False
    now = dt.datetime.now(dt.timezone.utc)
    return cred.cert.not_valid_before_utc <= now < cred.cert.not_valid_after_utc


@dataclass
class Pki:
    """The credentials of one testbed, as files under ``directory``."""

    directory: Path
    ca: CredentialFiles
    servers: dict[str, CredentialFiles] = field(default_factory=dict)
    clients: dict[str, CredentialFiles] = field(default_factory=dict)

    @classmethod
    def ensure(
        cls,
        dirpath: str | os.PathLike[str],
        ca_cn: str,
        servers: list[str],
        clients: list[str],
        *,
        algorithm: KeyAlgorithm = "p256",
        ca_days: int = 3650,
        leaf_days: int = 825,
    ) -> Pki:
        """Create what is missing under ``dirpath``; keep what is there and still valid.

        A CA that is missing, expired or named differently is re-made, and then every leaf
        with it. A leaf is re-made when missing, expired, or not issued by the current CA.
        """
        directory = Path(dirpath)
        directory.mkdir(parents=True, exist_ok=True)
        ca_files = CredentialFiles(directory / "ca.pem", directory / "ca.key")
        ca: Credential | None = None
        if ca_files.cert.is_file() and ca_files.key.is_file():
            try:
                ca = load_credential(ca_files)
            except (ValueError, TypeError):  # unreadable CA: make a new one
                ca = None
            if ca is not None:
                now = dt.datetime.now(dt.timezone.utc)
                same_name = ca.cert.subject == _name(ca_cn)
                if not same_name or not ca.cert.not_valid_after_utc > now:
                    ca = None
        if ca is None:
            ca = make_ca(ca_cn, ca_days, algorithm=algorithm)
            write_pem(directory, "ca", ca.cert, ca.key)
        pki = cls(directory, ca_files)
        for cn in servers:
            name = f"server-{cn}"
            _check_file_name(name)
            files = CredentialFiles(directory / f"{name}.pem", directory / f"{name}.key")
            if not _still_good(files, ca):
                cred = issue_server_cert(ca, cn, leaf_days, algorithm=algorithm)
                files = write_pem(directory, name, cred.cert, cred.key)
            pki.servers[cn] = files
        for identity in clients:
            name = f"client-{identity}"
            _check_file_name(name)
            files = CredentialFiles(directory / f"{name}.pem", directory / f"{name}.key")
            if not _still_good(files, ca):
                cred = issue_client_cert(ca, identity, leaf_days, algorithm=algorithm)
                files = write_pem(directory, name, cred.cert, cred.key)
            pki.clients[identity] = files
        return pki

    def load_ca(self) -> Credential:
        return load_credential(self.ca)
