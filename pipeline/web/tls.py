"""`pipeline serve --tls`: a self-signed certificate, made on first use and kept.

Phone browsers give the camera only to a secure context (https, or localhost), so a page
served over the LAN needs TLS. The certificate is made once by the system's `openssl` (no new
Python dependency), kept in `<site>.tls/` beside the site (never inside it: the server would
serve the key), the private key 0600; its SHA-256 fingerprint is printed so the phone's user
can check what they are asked to trust.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path

from pipeline.core.errors import PipelineError

DAYS = 825  # the longest validity Apple's browsers accept for a certificate like this


def folder_for(site: Path) -> Path:
    return site.parent / f"{site.name}.tls"


def ensure(folder: Path, host: str) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in `folder`, made now if absent."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.is_file() and key.is_file():
        return cert, key
    if shutil.which("openssl") is None:
        raise PipelineError("--tls needs the `openssl` command to make a certificate "
                            "(Debian: apt-get install openssl)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _make(folder, cert, key, host)
    except OSError as exc:
        raise PipelineError(f"{folder}: cannot write the certificate ({exc.strerror or exc})") \
            from None
    return cert, key


def _make(folder: Path, cert: Path, key: Path, host: str) -> None:
    names = ["DNS:localhost", "IP:127.0.0.1"]
    if host not in ("", "0.0.0.0", "::", "localhost", "127.0.0.1"):
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            names.append(f"DNS:{host}")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".new.") as tmp:
        new_cert, new_key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        done = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", str(DAYS), "-subj", "/CN=flower-pipeline serve",
             "-addext", f"subjectAltName={','.join(names)}",
             "-keyout", str(new_key), "-out", str(new_cert)],
            capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise PipelineError(f"{folder}: openssl could not make a certificate: {last}")
        os.chmod(new_key, 0o600)
        os.chmod(new_cert, 0o644)
        os.replace(new_key, key)
        os.replace(new_cert, cert)


def fingerprint(cert: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii"))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise PipelineError(f"{cert}: not a usable certificate and key ({exc}); delete "
                            f"{cert.parent} to make a new one") from None
    return ctx
