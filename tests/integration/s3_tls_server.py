"""A local S3-compatible server that pgBackRest accepts: moto's S3 over HTTPS (uvicorn).

pgBackRest talks HTTP/1.1 with keep-alive over TLS and treats a TLS connection closed without
close_notify as an error ("TLS error [1:167772454] unexpected eof while reading"); moto's own
server (werkzeug's development server) closes that way after every PUT, so pgBackRest retries
until it gives up. uvicorn closes TLS properly, so moto's WSGI app runs under it here.

Run: `python -m tests.integration.s3_tls_server PORT CERT KEY`; `s3_server(root)` in tests.
"""
from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ACCESS_KEY, SECRET_KEY, REGION = "catalogtest", "catalogtestsecret", "eu-central-1"


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            # pgBackRest matches the endpoint's host name against DNS names only (not IP addresses)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "s3.crt", directory / "s3.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def s3_server(directory: Path, bucket: str) -> Iterator[dict]:
    """An HTTPS S3 endpoint on a spare port with `bucket` created; stopped at exit."""
    import boto3

    from tests.infra import free_port

    port = free_port()
    cert, key = self_signed(directory)
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.s3_tls_server", str(port), str(cert), str(key)],
                            stdout=subprocess.DEVNULL, stderr=open(directory / "s3.log", "w"),
                            cwd=Path(__file__).resolve().parents[2])
    try:
        client = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{port}", verify=str(cert), region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield {"port": port, "ca_file": cert, "client": client, "bucket": bucket}
    finally:
        proc.kill()  # a scratch server: nothing to flush
        proc.wait(10)


def main(port: int, cert: str, key: str) -> None:
    import uvicorn
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from uvicorn.middleware.wsgi import WSGIMiddleware

    app = WSGIMiddleware(DomainDispatcherApplication(create_backend_app))
    uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning")


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore")
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
