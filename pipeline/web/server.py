"""`pipeline serve`: the phone page over HTTP(S), and the one endpoint that records benchmarks.

The server may be reachable from a LAN (`--host`), so it trusts nothing in a request:
- GET/HEAD serve regular files inside the site folder only: the decoded path is split into
  names, any `..`, empty-after-root, backslash or NUL name is refused, and the resolved file
  (symlinks followed) must still be inside the site. No directory listing: `/` is index.html,
  any other folder is 404.
- POST only to API (at most devices.MAX_BODY bytes, Content-Length required, JSON of the
  schema in devices.py); every other method is 405.
- A bad request gets its 4xx and the server goes on; requests are handled in threads, with a
  socket timeout so a slow client cannot hold one forever; results are recorded one at a time.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline.core.errors import PipelineError
from pipeline.rundir.lock import RunBusy
from pipeline.web import devices

API = "/api/benchmark"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
         ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm",
         ".tflite": "application/octet-stream", ".png": "image/png"}
# Cross-origin isolation (COOP + COEP; every file is same-origin) gives the page
# performance.now() at 5 us instead of 100 us, for the benchmark's timings.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Cache-Control": "no-cache", "Cross-Origin-Opener-Policy": "same-origin",
                    "Cross-Origin-Embedder-Policy": "require-corp"}


def site_file(site: Path, url_path: str) -> Path | None:
    """The file inside `site` that `url_path` names, or None (404)."""
    path = unquote(url_path, errors="strict")
    if not path.startswith("/") or "\x00" in path or "\\" in path:
        return None
    names = path[1:].split("/")
    if names == [""]:
        names = ["index.html"]
    if any(name in ("", ".", "..") for name in names):
        return None
    root = site.resolve()
    try:
        file = root.joinpath(*names).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    return file if file.is_relative_to(root) and file.is_file() else None


class Handler(BaseHTTPRequestHandler):
    timeout = 20  # seconds a client may take to send its request
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "pipeline-serve"

    def do_GET(self):
        self._static(body=True)

    def do_HEAD(self):
        self._static(body=False)

    def do_POST(self):
        if self._path() != API:
            return self._reply(405 if self._static_target() else 404, {"error": "no such endpoint"})
        status, answer = self.server.app.post(self.headers, self.rfile)
        self._reply(status, answer)

    def __getattr__(self, name):
        if name.startswith("do_"):  # PUT, DELETE, OPTIONS, TRACE, any made-up method: 405
            return lambda: self._reply(405, {"error": f"{self.command} is not allowed"})
        raise AttributeError(name)

    def _path(self) -> str:
        return urlsplit(self.path).path

    def _static_target(self) -> Path | None:
        try:
            return site_file(self.server.app.site, self._path())
        except UnicodeDecodeError:
            return None

    def _static(self, body: bool) -> None:
        file = self._static_target()
        if file is None:
            return self._reply(404, {"error": "not found"}, body)
        data = file.read_bytes()
        self.send_response(200)
        self._headers(TYPES.get(file.suffix, "application/octet-stream"), len(data))
        if body:
            self.wfile.write(data)

    def _reply(self, status: int, answer: dict, body: bool = True) -> None:
        data = (json.dumps(answer) + "\n").encode("utf-8")
        self.send_response(status)
        if status >= 400:
            self.close_connection = True  # the unread rest of a bad request is not parsed
            self.send_header("Connection", "close")
        if status == 405:
            self.send_header("Allow", "GET, HEAD" + (", POST" if self._path() == API else ""))
        self._headers("application/json", len(data))
        if body:
            self.wfile.write(data)

    def _headers(self, kind: str, length: int) -> None:
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()

    def log_message(self, format, *args):  # one short line per request, on stderr
        if self.server.app.verbose:
            super().log_message(format, *args)


class App:
    """What the handlers share: the site, the run, one results writer at a time."""

    def __init__(self, site: Path, run: Path, verbose: bool = False):
        self.site, self.run, self.verbose = Path(site), Path(run), verbose
        self.site_info = json.loads((self.site / "site.json").read_text(encoding="utf-8"))
        self._writing = threading.Lock()

    def post(self, headers, stream) -> tuple[int, dict]:
        kind = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if headers.get("Transfer-Encoding"):
            return 411, {"error": "send a Content-Length, not a chunked body"}
        try:
            length = int(headers.get("Content-Length", ""))
        except ValueError:
            return 411, {"error": "Content-Length required"}
        if not 0 < length <= devices.MAX_BODY:
            return 413, {"error": f"body of {length} bytes; at most {devices.MAX_BODY}"}
        if kind != "application/json":
            return 415, {"error": "Content-Type must be application/json"}
        body = stream.read(length)
        if len(body) != length:
            return 400, {"error": "body shorter than its Content-Length"}
        return self.save(body)

    def save(self, body: bytes) -> tuple[int, dict]:
        try:
            result = devices.parse(body, self.site_info)
            with self._writing:
                name = devices.record(self.run, result, self.site_info)
        except devices.BadResult as exc:
            return 400, {"error": str(exc)}
        except devices.Full as exc:
            return 429, {"error": str(exc)}
        except RunBusy as exc:
            return 503, {"error": str(exc)}
        except (PipelineError, OSError) as exc:
            return 500, {"error": f"not recorded: {exc}"}
        print(f"recorded a device benchmark: {self.run}/{devices.STAGE}/{name}", flush=True)
        return 201, {"saved": f"{devices.STAGE}/{name}"}


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app: App):
        self.app = app
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        """A client that hangs up or fails the TLS handshake: its thread ends, the rest go on."""
        if self.app.verbose:
            super().handle_error(request, client_address)
