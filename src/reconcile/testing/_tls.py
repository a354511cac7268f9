"""Certificates for the test servers that speak TLS: a test CA, a server certificate and a client certificate."""

from __future__ import annotations

from pathlib import Path

from reconcile.testing._controlplane import ControlPlaneError

__all__ = ["write_test_certificates"]


def write_test_certificates(folder: Path) -> None:
    """Write ``ca.crt``, ``server.crt``/``server.key`` (for 127.0.0.1 and localhost) and ``client.crt``/``client.key``.

    A fresh CA each time, valid for two days; keys are ECDSA P-256, readable by the owner only.

    Raises:
        ControlPlaneError: The ``cryptography`` package is missing.
    """
    try:
        import datetime  # noqa: PLC0415

        from cryptography import x509  # noqa: PLC0415 - only TLS registries need it
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415
    except ImportError as exc:
        raise ControlPlaneError("an OCIRegistry with tls=True needs the cryptography package") from exc
    import ipaddress  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write_key(key: ec.EllipticCurvePrivateKey, file: str) -> None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (folder / file).write_bytes(pem)
        (folder / file).chmod(0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("reconcile test CA"))
        .issuer_name(name("reconcile test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for file, common, usage, names in (
        ("server", "127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, True),
        ("client", "reconcile test client", ExtendedKeyUsageOID.CLIENT_AUTH, False),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if names:
            alt = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        certificate = builder.sign(ca_key, hashes.SHA256())
        (folder / f"{file}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        write_key(key, f"{file}.key")
