"""`pipeline serve`: the phone page of a run (built by web/web.py when it is not current),
served on 127.0.0.1 unless told otherwise, and the device benchmarks it posts recorded."""
from __future__ import annotations

import errno
import ipaddress
import socket
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.web import site as sitelib
from pipeline.web import tls
from pipeline.web.server import API, App, Server
from pipeline.web.web import build

DEFAULT_SITE = "web"  # RUN/web/: a view of the run, made again at will (like RUN/report/)


def serve(run: Path, host: str = "127.0.0.1", port: int = 8000, use_tls: bool = False,
          site: Path | None = None, variants: list[str] | None = None,
          verbose: bool = False) -> None:
    run = Path(run)
    site = Path(site) if site else run / DEFAULT_SITE
    if not sitelib.current(site, run, variants):
        build(run, site, variants)
    context = None
    if use_tls:
        cert, key = tls.ensure(tls.folder_for(site), host)
        context = tls.context(cert, key)
        print(f"TLS certificate {cert} (self-signed), SHA-256 fingerprint {tls.fingerprint(cert)}")
    server = bind(host, port, App(site, run, verbose))
    if context is not None:  # handshakes happen in the request threads, not in accept()
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    announce(host, server.server_address[1], use_tls)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\npipeline serve: stopped")
    finally:
        server.server_close()


def bind(host: str, port: int, app: App) -> Server:
    try:
        return Server((host, port), app)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PipelineError(f"{host}:{port} is in use by another program; give another "
                                "--port") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PipelineError(f"{host}:{port}: not allowed to listen there (ports below 1024 "
                                "need root); give another --port") from None
        raise PipelineError(f"{host}:{port}: cannot listen there ({exc.strerror or exc})") \
            from None


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def announce(host: str, port: int, use_tls: bool) -> None:
    scheme = "https" if use_tls else "http"
    shown = lan_address() if host in ("0.0.0.0", "::", "") else host
    print(f"serving {scheme}://{shown}:{port}/ (benchmarks are recorded at {API}); "
          "Ctrl-C stops it")
    if not loopback(host):
        print(f"note: listening on {host or 'every address'}: any device that can reach this "
              f"machine on port {port} can open the page and post benchmark results")
        if not use_tls:
            print("note: without --tls a phone's browser allows the photo button, not the camera")


def lan_address() -> str:
    """This machine's address on its LAN, for the URL to type on the phone. A UDP socket's
    connect() only picks a route; it sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "THIS-MACHINE'S-ADDRESS"


def run(o) -> None:
    """`pipeline serve` (options.ServeOptions)."""
    serve(o.run, o.host, o.port, o.tls, o.site, o.variants, o.verbose)
